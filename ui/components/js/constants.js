// The numbers the browser components share with the Python side, in one place. Each mirrors a
// Python constant (named on its line); tests/app/test_shared_js.py reads this file and checks
// every one against Python.

const SIDE = 28; // viz.network.layers.INPUT_SHAPE: the input's side in pixels (28x28 MNIST digits)
const PIXELS = SIDE * SIDE; // 784 input pixels
const LAST = SIDE - 1; // the last input row / column (27)
const ACCENT_RGB = [216, 134, 42]; // viz.pictures.style.ORANGE: a unit's outline, its field, the hatching
const BLUE = "#3b5b92"; // viz.pictures.style.BLUE: positive values of a layer's vector
const PAD_GREY_RGB = [236, 236, 236]; // viz.pictures.style.PAD_GREY: the zero padding around the input
const BORDER_GREY = "#969696"; // viz.pictures.style.BORDER_GREY: the input's border in the pictures
const YELLOW = [254, 232, 56]; // viz.pictures.style.YELLOW: the sensitivity overlay
const SENSITIVITY_GAMMA = 0.6; // viz.pictures.raster.SENSITIVITY_GAMMA: overlay opacity = level ** gamma
const SIGNED_GAMMA = 0.7; // viz.pictures.raster.SIGNED_GAMMA
const BOX = 20; // viz.inputs.preprocess.BOX: a digit is fitted into BOX x BOX pixels
const CENTRE = 14; // viz.inputs.preprocess.CENTRE: its centre of mass moved to (CENTRE, CENTRE)
const INK_THRESHOLD = 0.15; // viz.inputs.preprocess.INK_THRESHOLD: ink that counts when cropping
const LEVELS = 1000; // viz.pictures.style.LEVELS: overlay levels per sign
const STOPS = { // colour scales (viz.pictures.style's CIVIDIS and RDBU_R; plotly's Viridis)
  cividis: ["#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678", "#a59c74",
    "#c3b369", "#e1cc55", "#fee838"],
  viridis: ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779",
    "#6ece58", "#b5de2b", "#fde725"],
  gray: ["#000000", "#ffffff"],
  // signed overlays: RdBu reversed (blue = negative, red = positive), viz.pictures.style.RDBU_R
  rdbu: ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7",
    "#f4a582", "#d6604d", "#b2182b", "#67001f"],
};

const rgba = (rgb, a) => (a === undefined ? `rgb(${rgb.join(",")})` : `rgba(${rgb.join(",")},${a})`);
const ORANGE = rgba(ACCENT_RGB);
const PAD_GREY = rgba(PAD_GREY_RGB);
// the attribution methods' numbers (ui/components/js/attribute.js), each the server's own
const MNIST_STD = 0.3081; // viz.inputs.preprocess.STD: the MNIST scaling the server's maps are taken in
const IG_STEPS = 32; // model.saliency.integrated_gradients.STEPS (Gauss-Legendre points)
const SMOOTH_SAMPLES = 16; // model.saliency.smoothgrad.SAMPLES: noisy copies per digit
const SMOOTH_NOISE = 0.15; // model.saliency.smoothgrad.NOISE: noise std as a share of the pixel range
const OCCLUSION_WINDOW = 14; // viz.limits.OCCLUSION_WINDOW: Occlusion's largest default window and step
const OCCLUSION_SAME = 1e-6; // model.saliency.occlusion.SAME: a window this close to black hides nothing
const DEFAULT_LAYERS = ["relu5", "relu3", "relu2"]; // viz.network.layers.DEFAULT_LAYERS: the explorer's first layer
