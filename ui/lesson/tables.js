// The lesson's table views (after lesson.js): Atlas, Confusion and Trust, drawn from the tables
// model/lesson computed once with the server's code (model.atlas, model.insight.predictions,
// model.trust). Nothing is recomputed here: the numbers shown are the app's. Each container
// carries its numbers as data attributes too (data-values, data-matrix, data-method...).

// ---------------------------------------------------------------- Atlas
const DIGITS = new Map(); // test index -> its tile (a 28x28 canvas)

function testDigit(atlas, idx) {
  const bin = atob(atlas.digits[String(idx)]);
  const px = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) px[i] = bin.charCodeAt(i);
  return px;
}

// A test digit cropped to a field [y0, y1, x0, x1] (unclipped: the padding grey and hatched).
function drawPatch(ctx, tile, region, x, y, size) {
  const [y0, y1, x0, x1] = region;
  const r = y1 - y0 + 1, k = size / r;
  ctx.save();
  ctx.beginPath(); ctx.rect(x, y, size, size); ctx.clip();
  ctx.fillStyle = PAD_GREY; ctx.fillRect(x, y, size, size);
  ctx.imageSmoothingEnabled = false;
  const ox = x - x0 * k, oy = y - y0 * k;
  ctx.drawImage(tile, ox, oy, SIDE * k, SIDE * k);
  if (y0 < 0 || x0 < 0 || y1 > LAST || x1 > LAST) {
    ctx.beginPath(); ctx.rect(x, y, size, size); ctx.rect(ox, oy, SIDE * k, SIDE * k);
    ctx.fillStyle = ctx.createPattern(hatch(), "repeat"); ctx.fill("evenodd");
  }
  ctx.restore();
}

const AtlasView = {
  layer: null,

  draw(sec) {
    const atlas = LESSON.net.atlas;
    sec.innerHTML = "";
    if (!atlas || !atlas.layers.length) {
      note(sec, "This network's lesson has no atlas: it had no stored atlas and the MNIST test " +
        "set was not where the lesson was written (set MNIST_DIR there).");
      return;
    }
    const names = atlas.layers.map((l) => l.name);
    if (!names.includes(this.layer)) {
      this.layer = names.includes(FieldView.layer) ? FieldView.layer
        : names.find((n) => n.startsWith("relu")) || names[0];
    }
    const la = atlas.layers.find((l) => l.name === this.layer);
    sec.append(el("p", "lead", "What each channel learned: the 9 test digits (of 10,000) that " +
      "excite it most, each cropped to the exact receptive field of the unit where it peaks " +
      "(hatching: zero padding), its activation under each. Click a patch to make that digit the input."));
    const bar = el("div", "bar");
    bar.append(picker("Layer", names.map((n) => [n, n]), this.layer, (v) => { this.layer = v; this.draw(sec); }));
    sec.append(bar);
    const list = el("div", "atlas-rows");
    sec.append(list);
    const gap = 4, label = LESSON.large ? 22 : 16;
    const width = Math.min(sec.clientWidth || 800, LESSON.large ? 1200 : 900);
    const size = Math.max(30, Math.min(LESSON.large ? 110 : 84, Math.floor((width - 8 * gap) / 9)));
    la.channels.forEach((ch, c) => {
      const row = el("div", "atlas-row");
      row.dataset.channel = String(c);
      row.dataset.values = JSON.stringify(ch.value);
      row.dataset.index = JSON.stringify(ch.index);
      row.dataset.max = String(ch.max);
      row.append(el("div", "cap", `Channel ${c}: largest over the test set ${ch.max.toFixed(2)}`));
      const cv = canvasOf(9 * size + 8 * gap, size + label + 2, "atlas-patches",
        `The 9 test digits that excite channel ${c} of ${this.layer} most; activations ` +
        ch.value.map((v) => v.toFixed(2)).join(", "));
      const ctx = cv.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, cv.width, cv.height);
      ch.index.forEach((idx, k) => {
        if (!DIGITS.has(idx)) DIGITS.set(idx, inputTile(testDigit(atlas, idx)));
        drawPatch(ctx, DIGITS.get(idx), ch.region[k], k * (size + gap), 0, size);
        ctx.fillStyle = LESSON_STYLE.text;
        ctx.font = `${label - 3}px sans-serif`; ctx.textAlign = "center"; ctx.textBaseline = "top";
        ctx.fillText(ch.value[k].toFixed(2), k * (size + gap) + size / 2, size + 2);
      });
      cv.addEventListener("click", (ev) => {
        const r = cv.getBoundingClientRect();
        const k = Math.floor(((ev.clientX - r.left) / r.width) * cv.width / (size + gap));
        if (k < 0 || k >= ch.index.length) return;
        LESSON.setTestDigit(testDigit(atlas, ch.index[k]), `Test digit #${ch.index[k]}`);
      });
      row.append(cv);
      list.append(row);
    });
  },
};

// ---------------------------------------------------------------- Confusion
const ConfusionView = {
  draw(sec) {
    const cm = LESSON.net.confusion;
    sec.innerHTML = "";
    if (!cm) {
      note(sec, "This network's lesson has no confusion matrix: its test predictions were not " +
        "shipped and the MNIST test set was not where the lesson was written (set MNIST_DIR there).");
      return;
    }
    sec.dataset.matrix = JSON.stringify(cm.matrix);
    sec.dataset.overall = String(cm.overall);
    sec.append(el("p", "lead", `${cm.n.toLocaleString("en")} test digits: row = true class, ` +
      `column = prediction (colour on a log scale so single mistakes show). Overall accuracy ` +
      `${(cm.overall * 100).toFixed(2)}%.`));
    const row = el("div", "pair");
    const w = Math.min(side(sec, 460), LESSON.large ? 620 : 460);
    const cv = canvasOf(w, w, "confusion-matrix", "");
    this.matrix(cv, cm.matrix);
    const t = el("table", "per-class");
    t.innerHTML = "<thead><tr><th>class</th><th>digits</th><th>right</th><th>accuracy</th>" +
      "<th>most often taken for</th></tr></thead>";
    const body = el("tbody");
    cm.matrix.forEach((r, c) => {
      const tr = el("tr");
      tr.dataset.class = String(c);
      const tf = cm.taken_for[c];
      const acc = cm.accuracy[c];
      for (const v of [c, r.reduce((a, b) => a + b, 0), r[c],
        acc === null ? "—" : `${(acc * 100).toFixed(2)}%`, tf ? `${tf[0]} (${tf[1]})` : "-"]) {
        tr.append(el("td", null, String(v)));
      }
      body.append(tr);
    });
    t.append(body);
    row.append(cv, t);
    sec.append(row);
    const acc = cm.accuracy.map((a) => (a === null ? Infinity : a));
    const worst = acc.indexOf(Math.min(...acc));
    sec.append(el("p", "cap", `Weakest class: ${worst} (${(cm.accuracy[worst] * 100).toFixed(2)}%).`));
  },

  matrix(cv, m) {
    const ctx = cv.getContext("2d");
    const pad = Math.round(cv.width * 0.09), n = 10, cell = (cv.width - pad) / n;
    let most = 1;
    for (const r of m) for (const v of r) most = Math.max(most, v);
    const lut = LUTS.cividis;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, cv.width, cv.height);
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    const font = Math.max(9, Math.floor(cell * 0.3));
    for (let t = 0; t < n; t++) {
      for (let p = 0; p < n; p++) {
        const v = m[t][p], k = 3 * Math.round((Math.log1p(v) / Math.log1p(most)) * 255);
        ctx.fillStyle = `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
        ctx.fillRect(pad + p * cell, pad + t * cell, cell - 1, cell - 1);
        ctx.fillStyle = k / 3 > 150 ? "#111" : "#fff";
        ctx.font = `${font}px sans-serif`;
        if (v) ctx.fillText(String(v), pad + (p + 0.5) * cell, pad + (t + 0.5) * cell);
      }
      ctx.fillStyle = LESSON_STYLE.text;
      ctx.font = `bold ${font + 2}px sans-serif`;
      ctx.fillText(String(t), pad / 2, pad + (t + 0.5) * cell);
      ctx.fillText(String(t), pad + (t + 0.5) * cell, pad / 2);
    }
    ctx.font = `${font}px sans-serif`;
    ctx.fillStyle = LESSON_STYLE.caption;
    ctx.fillText("true ↓  predicted →", pad / 2 + 40, 8);
    const wrong = m.reduce((s, r, t) => s + r.reduce((a, v, p) => a + (p === t ? 0 : v), 0), 0);
    cv.setAttribute("aria-label", `Confusion matrix: ${wrong} mistakes of ` +
      `${m.flat().reduce((a, b) => a + b, 0)} test digits`);
  },
};

// ---------------------------------------------------------------- Trust
const TrustView = {
  draw(sec) {
    const tr = LESSON.net.trust;
    sec.innerHTML = "";
    sec.append(el("p", "verdict", tr.verdict));
    const t = el("table", "trust-table");
    t.innerHTML = "<thead><tr><th>method</th><th>deletion AUC (lower is better)</th>" +
      "<th>insertion AUC (higher is better)</th><th>randomization Spearman (near 0 is better)</th>" +
      "</tr></thead>";
    const body = el("tbody");
    const rows = [...tr.rows, { method: "random", label: "random order", deletion_auc: tr.random[0],
      insertion_auc: tr.random[1], spearman: null }];
    for (const r of rows) {
      const row = el("tr");
      row.dataset.method = r.method;
      row.dataset.deletion = String(r.deletion_auc);
      row.dataset.insertion = String(r.insertion_auc);
      row.dataset.spearman = r.spearman === null ? "" : String(r.spearman);
      for (const v of [r.label, r.deletion_auc.toFixed(3), r.insertion_auc.toFixed(3),
        r.spearman === null ? "—" : r.spearman.toFixed(3)]) row.append(el("td", null, v));
      body.append(row);
    }
    t.append(body);
    const scroll = el("div", "scroll");
    scroll.append(t);
    sec.append(scroll);
    sec.append(el("p", "cap", `On ${tr.source}, target = the network's prediction. Deletion: ` +
      "pixels blacked out in the order of the map (most positive first); insertion: added to a " +
      "black image in that order; AUC = area under the class probability over the share of " +
      "pixels. Randomization: Spearman rank correlation of |map| on the trained network and on " +
      "a copy with random weights (Adebayo et al. 2018). Occlusion uses " +
      `${tr.occlusion[0]}x${tr.occlusion[0]} tiles. Random order is the bar a method has to beat.`));
    const row = el("div", "pair");
    const w = Math.min(side(sec, 440), LESSON.large ? 600 : 440);
    for (const [key, title] of [["deletion_curve", "Deletion: probability as pixels are removed"],
      ["insertion_curve", "Insertion: probability as pixels are added"]]) {
      const f = el("figure", "panel");
      const cv = canvasOf(w, Math.round(w * 0.7), "trust-curve", title);
      f.append(el("figcaption", "cap", title), cv);
      this.curves(cv, tr.rows, key);
      row.append(f);
    }
    sec.append(row);
    const legend = el("div", "legend");
    tr.rows.forEach((r, i) => {
      const s = el("span", "key");
      const sw = el("i");
      sw.style.borderTop = `3px ${i % 2 ? "dashed" : "solid"} ` +
        LESSON_STYLE.categorical[i % LESSON_STYLE.categorical.length];
      s.append(sw, r.label);
      legend.append(s);
    });
    sec.append(legend);
  },

  curves(cv, rows, key) {
    const ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
    const f = LESSON.large ? 18 : 13;
    const l = f * 3, b = f * 2.4, top = 8, right = f * 2;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = LESSON_STYLE.gridGrey; ctx.lineWidth = 1;
    ctx.font = `${f}px sans-serif`; ctx.fillStyle = LESSON_STYLE.caption;
    const X = (t) => l + t * (W - l - right), Y = (v) => top + (1 - v) * (H - top - b);
    for (let i = 0; i <= 4; i++) {
      const v = i / 4;
      ctx.beginPath(); ctx.moveTo(X(0), Y(v)); ctx.lineTo(X(1), Y(v)); ctx.stroke();
      ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillText(v.toFixed(2), l - 4, Y(v));
      ctx.textAlign = "center"; ctx.textBaseline = "top"; ctx.fillText(`${i * 25}%`, X(v), H - b + 4);
    }
    ctx.fillText("share of pixels", X(0.5), H - b + f + 6);
    rows.forEach((r, i) => {
      const c = r[key];
      ctx.strokeStyle = LESSON_STYLE.categorical[i % LESSON_STYLE.categorical.length];
      ctx.lineWidth = LESSON.large ? 3 : 2;
      ctx.setLineDash(i % 2 ? [6, 3] : []);
      ctx.beginPath();
      c.forEach((v, k) => { const x = X(k / (c.length - 1)), y = Y(v); if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
      ctx.stroke();
    });
    ctx.setLineDash([]);
  },
};

LESSON.views.atlas = AtlasView;
LESSON.views.confusion = ConfusionView;
LESSON.views.trust = TrustView;
