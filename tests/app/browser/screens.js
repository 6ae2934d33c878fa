// What a reader of the page would see broken, measured in the browser (tests/app/browser/test_screens_browser.py):
// a page wider than the window, text clipped or cut, words wrapped letter by letter, controls
// cut, neighbouring titles over each other, a chart's numbers out of their cells, and (presenter
// mode) text too small. Components' shadow roots are walked too. Returns a list of short problem descriptions.
(opts) => {
  const problems = [];
  const seen = new Set();
  const say = (kind, el, extra) => {
    const key = kind + ':' + describe(el);
    if (seen.has(key)) return;
    seen.add(key);
    problems.push(`${kind}: ${describe(el)}${extra ? ' ' + extra : ''}`);
  };
  function describe(el) {
    let owner = el;
    let testid = '';
    while (owner && owner !== document.body) {
      const t = owner.getAttribute && owner.getAttribute('data-testid');
      const cls = owner.className && typeof owner.className === 'string'
        ? owner.className.split(' ').find((c) => c.startsWith('st-key-')) : null;
      if (cls) { testid = '.' + cls + (testid ? ' ' + testid : ''); break; }
      if (t && !testid) testid = `[${t}]`;
      owner = owner.parentElement;
    }
    const text = (el.value || el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return `${el.tagName.toLowerCase()}${testid ? ' in ' + testid : ''} "${text}"`;
  }
  const W = window.innerWidth;
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 3 || r.height < 3) return false;  // nothing, or text for screen readers only
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || Number(s.opacity) === 0) return false;
    // (not aria-hidden: Streamlit hides a widget's visible label from screen readers)
    if (el.closest('[data-testid=stSidebarCollapsed], .modebar-container')) return false;
    return true;
  };
  const ownText = (el) => {
    let t = '';
    for (const n of el.childNodes) {
      if (n.nodeType === 3) t += n.textContent;
      else if (n.nodeType === 1 && getComputedStyle(n).display === 'inline' && n.tagName !== 'svg') t += n.textContent;
    }
    return t.trim();
  };
  const sidebar = document.querySelector('[data-testid=stSidebar]');
  const sidebarOpen = sidebar && sidebar.getAttribute('data-collapsed') === 'false';
  // 1. the page scrolls sideways
  for (const sel of ['html', 'body', '[data-testid=stAppViewContainer]', '[data-testid=stMain]',
                     '[data-testid=stSidebarContent]']) {
    const el = document.querySelector(sel);
    if (sel.includes('Sidebar') && !sidebarOpen) continue;
    if (el && visible(el) && el.scrollWidth > el.clientWidth + 1) {
      say('page scrolls sideways', el, `(${el.scrollWidth} > ${el.clientWidth} px)`);
    }
  }
  // every element, those inside the components' shadow roots too (their styles are isolated)
  const everything = (root) => {
    const out = [];
    for (const el of root.querySelectorAll('*')) {
      out.push(el);
      if (el.shadowRoot) out.push(...everything(el.shadowRoot));
    }
    return out;
  };
  const all = everything(document.body);
  const smallest = [];
  for (const el of all) {
    if (el.closest('svg, canvas, script, style, noscript, .js-plotly-plot .svg-container, [data-testid=stSidebarCollapsed]')) continue;
    if (!sidebarOpen && sidebar && sidebar.contains(el)) continue;
    const s = getComputedStyle(el);
    if (s.display === 'inline' || s.display === 'contents' || s.display === 'none') continue;
    const text = ownText(el);
    // (radio buttons, check boxes and sliders draw themselves around a hidden native input)
    const isControl = el.matches('button, [role=button], input:not([type=radio], [type=checkbox], [type=range]), select, textarea, [role=combobox], [role=tab]');
    if (!text && !isControl) continue;
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    // 2. text clipped, cut with an ellipsis, or spilling out of its box
    const scrolls = s.overflowX === 'auto' || s.overflowX === 'scroll';
    if (text && !scrolls && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
      say(s.textOverflow === 'ellipsis' ? 'text cut' : 'text overflows', el,
          `(${el.scrollWidth} > ${el.clientWidth} px)`);
    }
    if (text && (s.overflowY === 'hidden' || s.overflowY === 'clip') && el.scrollHeight > el.clientHeight + 3
        && el.clientHeight > 0 && !el.closest('[data-baseweb=select]')) {
      say('text clipped', el, `(${el.scrollHeight} > ${el.clientHeight} px high)`);
    }
    // 4. a control cut by the window or by a box that clips it
    if (el.tagName === 'INPUT' && el.value && el.scrollWidth > el.clientWidth + 1) {
      say('value cut', el, `("${el.value.slice(0, 30)}": ${el.scrollWidth} > ${el.clientWidth} px)`);
    }
    if (opts && opts.minFont && el.tagName === 'INPUT' && el.value && parseFloat(s.fontSize) < opts.minFont) {
      smallest.push([parseFloat(s.fontSize), el]);
    }
    if (isControl) {
      if (r.right > W + 1 || r.left < -1) say('control outside the window', el, `(${Math.round(r.left)}..${Math.round(r.right)} of ${W})`);
      let p = el.parentElement;
      while (p && p !== document.body) {
        const ps = getComputedStyle(p);
        if (ps.overflowX !== 'visible' && p.clientWidth > 0) {
          const pr = p.getBoundingClientRect();
          if (ps.overflowX === 'hidden' || ps.overflowX === 'clip') {
            if (r.right > pr.right + 1 || r.left < pr.left - 1) say('control cut', el, `(by ${describe(p)})`);
          }
          break;
        }
        p = p.parentElement;
      }
    }
  }
  // 3. words broken letter by letter: a text on more lines than it has words; (presenter
  // mode) text smaller than opts.minFont, measured on the element that holds it
  const texts = [];
  for (const root of [document.body, ...all.filter((e) => e.shadowRoot).map((e) => e.shadowRoot)]) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) texts.push(n);
  }
  for (const n of texts) {
    const el = n.parentElement;
    const words = n.textContent.trim().split(/\s+/).filter((w) => w.length > 0);
    if (!el || !words.length) continue;
    if (el.closest('svg, script, style, noscript, [data-testid=stSidebarCollapsed]')) continue;
    if (!sidebarOpen && sidebar && sidebar.contains(el)) continue;
    if (!visible(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (opts && opts.minFont && size < opts.minFont) smallest.push([size, el]);
    if (Math.max(...words.map((w) => w.length)) < 3) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const tops = new Set([...range.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
    if (tops.size > words.length) say('words broken across lines', el, `(${words.length} word(s) on ${tops.size} lines)`);
  }
  // 5. neighbouring titles (a grid's or a row's children) whose text runs into each other
  const ink = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return range.getBoundingClientRect();
  };
  // (two lines one above the other may share a pixel or two of their fonts' boxes)
  const meets = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 2
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.3 * Math.min(a.height, b.height);
  for (const box of all) {
    const d = getComputedStyle(box).display;
    if (!d.includes('grid') && !d.includes('flex')) continue;
    if (box.closest('svg, [data-testid=stSidebarCollapsed]')) continue;
    if (!sidebarOpen && sidebar && sidebar.contains(box)) continue;
    const kids = [...box.children].filter((k) => ownText(k) && visible(k)).map((k) => [k, ink(k)]);
    for (let i = 0; i < kids.length; i++) {
      for (let j = i + 1; j < kids.length; j++) {
        if (meets(kids[i][1], kids[j][1])) {
          say('texts overlap', kids[i][0], `(with ${describe(kids[j][0])})`);
        }
      }
    }
  }
  // 6. a chart's numbers spilling out of their heatmap cells (a cell: the distance between
  // neighbouring cells' centres), and its annotations over each other
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    if (!visible(chart)) continue;
    for (const hm of chart.querySelectorAll('g.hm')) {
      const labels = [...hm.querySelectorAll('g.heatmap-label text')].filter((t) => t.textContent.trim())
        .map((t) => [t, t.getBoundingClientRect()]).filter(([, r]) => r.width > 0);
      const pitch = (axis) => {
        const centres = [...new Set(labels.map(([, r]) => Math.round(axis === 'x' ? r.x + r.width / 2 : r.y + r.height / 2)))]
          .sort((a, b) => a - b);
        const gaps = centres.slice(1).map((c, i) => c - centres[i]).filter((g) => g > 2);
        return gaps.length ? Math.min(...gaps) : Infinity;
      };
      const px = pitch('x');
      for (const [t, r] of labels) {
        if (r.width > px) say('chart text wider than its cell', t, `(${Math.round(r.width)} > ${Math.round(px)} px)`);
      }
    }
    const notes = [...chart.querySelectorAll('g.annotation-text-g text, text.annotation-text')]
      .filter((t) => t.textContent.trim()).map((t) => [t, t.getBoundingClientRect()]).filter(([, r]) => r.width > 0);
    for (let i = 0; i < notes.length; i++) {
      for (let j = i + 1; j < notes.length; j++) {
        if (meets(notes[i][1], notes[j][1])) say('chart texts overlap', notes[i][0], `(with "${notes[j][0].textContent.trim().slice(0, 30)}")`);
      }
    }
  }
  if (opts && opts.minFont) {
    for (const [size, el] of smallest) say('text too small', el, `(${size} px)`);
    for (const t of document.querySelectorAll('.js-plotly-plot text')) {
      const size = parseFloat(getComputedStyle(t).fontSize);
      const r = t.getBoundingClientRect();  // (a chart with a text alternative is aria-hidden inside)
      if (t.textContent.trim() && r.width > 0 && r.height > 0 && size < opts.minChartFont) {
        say('chart text too small', t, `(${size} px)`);
      }
    }
  }
  return problems;
}
