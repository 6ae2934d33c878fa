"""The app's limits, each defined once (plain Python, importable from every layer).

Every value a user sends (a file, a network, a text, a class's traffic) is bounded before the
server allocates for it, and every memory pool has its budget. The readers, views and stores read
their bounds here; the copy that cannot import Python (``.streamlit/config.toml``'s
``maxUploadSize``) is checked against them by a test. Each name says what it bounds, and its
comment why that value.
"""

from __future__ import annotations

MIB = 1024 * 1024  # a megabyte as Streamlit counts uploads (maxUploadSize is in these)
MB = 1_000_000  # a megabyte of the memory budgets

# ---------------------------------------------------------------------------------------------
# Networks (a checkpoint, an ONNX or Keras file, the lab's table: all are checked against these)
# ---------------------------------------------------------------------------------------------
NETWORK_PARAMS = 5_000_000  # the zoo's largest, seed-original, has 4,155,626
NETWORK_MACS_PER_IMAGE = 2_000_000_000  # multiply-adds per 28x28 image; seed-original needs 1.55 G
# Numbers in every layer's output for one image, together (viz.network.layers.activation_elements):
# what the server keeps per network and digit (the forward caches), 16 MB in float32 at the
# limit. seed-original makes 1,988,244, seed 254,036.
NETWORK_ACTIVATIONS = 4_000_000
NETWORK_LAYERS = 100  # every view lists or walks every layer; the zoo's networks have far fewer
LAYER_NAME_CHARS = 64  # a layer or architecture name, in a model card, a link or the lab
LAYER_WIDTH = 1_000_000  # channels, or features of a linear layer (NETWORK_PARAMS binds first)
LAYER_WINDOW = 128  # a kernel, stride, padding or dilation: past 4x the 28-pixel input, no use
UNIT_INDEX = 100_000  # a channel, row or column index in a link or a click: past any zoo network's
CARD_HEADER_BYTES = 1_000_000  # a checkpoint's header (its model card): a zoo card is about 10 kB

# ---------------------------------------------------------------------------------------------
# Files from users (the upload box, and the readers behind it)
# ---------------------------------------------------------------------------------------------
UPLOAD_FILE_MB = 32  # the upload box: a checkpoint at NETWORK_PARAMS is 20 MB, with room to spare
UPLOAD_FILE_BYTES = UPLOAD_FILE_MB * MIB  # .streamlit/config.toml's maxUploadSize, in bytes
# A checkpoint has no cap of its own: it is the upload box's bytes, its header within
# CARD_HEADER_BYTES and its tensors within NETWORK_PARAMS.
ONNX_FILE_BYTES = UPLOAD_FILE_BYTES  # an .onnx file: the upload box's (--max-bytes may raise it)
KERAS_FILE_BYTES = UPLOAD_FILE_BYTES  # a .keras file: the upload box's
# An ONNX data file read from disk beside its .onnx by the command-line importer (an uploaded one
# is within the upload box): room for FILE_VALUES float32 numbers (40 MB).
ONNX_SIDE_FILE_BYTES = 64 * MIB
# Numbers one imported file may make in all tensors together: the parameters, and as many again
# for BatchNorm statistics, shape arithmetic and values folded away.
FILE_VALUES = 2 * NETWORK_PARAMS
TENSOR_DIMS = 8  # dimensions of one tensor in an imported file: a CNN's have at most 4
ONNX_NODES = 2_000  # nodes of an ONNX graph: 20 per layer at NETWORK_LAYERS (exporters make a few)
ONNX_INITIALIZERS = 2_000  # an ONNX graph's stored tensors: a few per layer, as its nodes
ONNX_VALUE_INFOS = 10_000  # inputs, outputs and value declarations, each: read before the graph
KERAS_ZIP_ENTRIES = 64  # a .keras holds 3 (and an assets folder for layers with files)
KERAS_CONFIG_BYTES = 2_000_000  # a .keras's config.json: a 100-layer config is about 250 kB
KERAS_METADATA_BYTES = 64_000  # a .keras's metadata.json: a few lines of versions and a date
KERAS_WEIGHTS_BYTES = NETWORK_PARAMS * 4 + 4_000_000  # float32 weights at the limit, and HDF5's
KERAS_LAYERS = 2 * NETWORK_LAYERS  # Keras layers, before each becomes 0 to 2 records
KERAS_H5_PATH_PARTS = 8  # an .h5 weight's name in groups: "sequential/conv2d/kernel" is 3
KERAS_H5_NAME_CHARS = 256  # an .h5 weight's name (and each part), in bytes
KERAS_H5_LAYER_WEIGHTS = 8  # an .h5 layer's weight_names: a BatchNormalization has 4
KERAS_HEAP_BYTES = 2 * KERAS_CONFIG_BYTES  # an HDF5 heap of a Keras file: its config, names
KERAS_HEAPS = 2_000  # HDF5 heaps in a Keras file: one per group, about 3 per layer (with Adam)
PHOTO_FILE_BYTES = 20 * MIB  # a photo of a digit: a phone camera's JPEG is a few MB
PHOTO_PIXELS = 50_000_000  # an image's pixels, read from its header: refuses decompression bombs
DRAWING_SIDE = 1024  # a drawing's side: the pad's is 240, refused from the PNG's header past this
DRAWING_BYTES = 4 * MIB  # PNG bytes of a drawing (the pad's are ~10 kB)
DRAWING_CHARS = (DRAWING_BYTES + 2) // 3 * 4 + 64  # its base64 text and data-URL prefix
PREDICT_IMAGES = 100_000  # images in one .npy for the command-line predictor: 10x MNIST's test set
ATTRIBUTE_IMAGES = 1_000  # images in one .npy for the command-line attribution (a map each)
# A PyTorch state dict (torch.save's zip of data.pkl and one record per storage), read without
# running its pickle: a 100-layer network's state dict has about 500 tensors and a pickle of
# about 100 kB, so these bound a hostile file's directory and pickle long before memory does.
TORCH_FILE_BYTES = UPLOAD_FILE_BYTES  # a .pt / .pth file: the upload box's
TORCH_TENSORS = 5 * NETWORK_LAYERS  # tensors in one state dict: a BatchNorm layer has 5
TORCH_ZIP_ENTRIES = TORCH_TENSORS + 16  # records in the zip: one per storage, a few of torch's
TORCH_PICKLE_BYTES = 400 * TORCH_TENSORS  # data.pkl: about 110 bytes a tensor, and long names
TORCH_PICKLE_OPS = 50 * TORCH_TENSORS  # opcodes run in data.pkl: about 36 a tensor
TORCH_INT_BYTES = 8  # an integer in the pickle (LONG1): shapes, strides and offsets fit in 64 bits

# ---------------------------------------------------------------------------------------------
# The browser lens: what runs live in every student's browser (viz.browser.lens explains the
# measurements; bench/lens_bound.py takes them)
# ---------------------------------------------------------------------------------------------
LENS_WEIGHT_CHARS = 8_000_000  # base64 weight text sent to one browser (8 MB), once per network
LENS_MACS_PER_STROKE = 20_000_000  # multiply-adds rerun on every pen stroke (about 0.2 s)
STATIC_ASSET_BYTES = 16 * MB  # the components' scripts as files, a version each (the oldest go)
LESSON_NETWORKS = 8  # networks in one lesson folder (python -m model.lesson): a switcher's worth

# ---------------------------------------------------------------------------------------------
# The class (a teacher and the students' browsers, through the class store)
# ---------------------------------------------------------------------------------------------
CLASS_STUDENTS = 60  # students who may join one class: the largest class the server is sized for
CLASS_GALLERY_DIGITS = 300  # digits one class's gallery keeps: 5 per student of a full class
CLASS_SEATS_KEPT = 100  # seat records (fresh or not) a class keeps; the stalest go first
CLASS_STATE_CHARS = 400_000  # the teacher's view as JSON (a drawing's PNG is ~10 kB of it)
CLASS_DRAWING_CHARS = 200_000  # the teacher's drawing as base64 PNG (the pad's are ~10 kB)
CLASS_QUEUED_WRITES = 50  # a teacher's writes kept while the store is away (of views, the newest)

# ---------------------------------------------------------------------------------------------
# Memory and time budgets (one 2-core server for a class of 30-60)
# ---------------------------------------------------------------------------------------------
# Bytes of layer outputs one pass over many images may hold at once: every view that runs a
# batch of images (test-set predictions, Occlusion's patches, Integrated Gradients' steps,
# SmoothGrad's noisy copies, the trust curves, the atlas, feature visualisation) cuts its
# batches to fit. 64 MB: a class of 30 on a 2-core server can run a few such passes at once.
BATCH_OUTPUT_BYTES = 64 * MB
FORWARD_CACHE_BYTES = 300 * MB  # checkpoints' digits: the default network's 200 samples and more
UPLOAD_FORWARD_CACHE_BYTES = 68 * MB  # uploads' digits: the last 4 at the limits (16 MB each)
UPLOAD_CACHE_BYTES = 200 * MB  # uploaded networks: 10 at NETWORK_PARAMS, hundreds of small ones
RANDOMIZED_CACHE_BYTES = 64 * MB  # the sanity check's randomized copies: 3 at NETWORK_PARAMS
TRAINING_MINUTES = 15.0  # a training run's estimated time (default of $CNN_LENS_MAX_TRAIN_MINUTES)
TRAINING_MEMORY_MB = 1024.0  # a training batch's memory in MiB ($CNN_LENS_MAX_TRAIN_MEMORY_MB)
OCCLUSION_WINDOW = 14  # Occlusion's patch side and step: half the 28-pixel image

# ---------------------------------------------------------------------------------------------
# Text fields and tables (what a user types, a link carries, a page shows)
# ---------------------------------------------------------------------------------------------
NICKNAME_CHARS = 20  # a student's nickname in the class gallery: a first name fits
PRODUCER_CHARS = 200  # an imported file's producer, kept in its model card
LINK_DIGITS = 6  # a number in a link: at most 999,999 (no view needs more)
WIDGET_STATE_CHARS = 8_000_000  # a widget's JSON state from a browser: the lens's drawing fits
WIDGET_STATE_DEPTH = 64  # its nesting: a chart's selection is 5 levels deep, a component's 3
REJECTED_STATE_SESSIONS = 1_000  # sessions whose last refused states are kept, to say so once
LAB_EDIT_ROWS = 200  # rows the lab editor's table may hold (the lab analyses NETWORK_LAYERS)
LAB_CELL = LAYER_WIDTH  # a number cell's magnitude in the lab (any real layer is far below)
LAB_TEXT_CELL_CHARS = LAYER_NAME_CHARS  # a name or type cell in the lab editor
LAB_INPUTS_CHARS = 400  # an inputs cell in the lab: the comma-separated names a join reads
LAB_FIX_TRIES = 40  # candidate tables tried for a fix (each one is analysed: a few ms)
TOUR_FEATURE_MAPS = 32  # feature maps the tour shows at once
