// archspec report: diagrams that open stage -> block -> layer, pan and zoom, sortable and
// filterable tables, and the diff between any two models. No network, no dependencies.
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var GAP = 22;  // between stacked boxes
  var PAD = 10;  // inside an open frame
  var HEAD = 24; // an open frame's title bar
  var KIDS_TOP = HEAD + 8;

  function num(el, name) { return parseFloat(el.getAttribute('data-' + name)); }
  function extent(el) { return { l: num(el, 'l'), r: num(el, 'r'), h: num(el, 'h') }; }
  function part(el, cls) {
    for (var i = 0; i < el.children.length; i++) {
      if (el.children[i].classList.contains(cls)) return el.children[i];
    }
    return null;
  }
  function show(el, on) {
    if (on) el.removeAttribute('display'); else el.setAttribute('display', 'none');
  }
  function set(el, values) { for (var k in values) el.setAttribute(k, values[k]); }
  function fmt(n) { return n.toLocaleString('en-US'); }
  function signed(n) { return (n > 0 ? '+' : '') + fmt(n); }

  // The JSON each model section carries: its layer rows and the ops of every block.
  var models = {};
  function modelData(anchor) {
    if (!models[anchor]) {
      models[anchor] = JSON.parse(document.getElementById(anchor + '-data').textContent);
    }
    return models[anchor];
  }
  function make(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    set(e, attrs || {});
    return e;
  }

  // An op's tooltip, worded as archspec words the boxes' (report/boxes.py, Facts.tip).
  function opTip(row, shapeIn) {
    return [
      row[0] + ': ' + row[1],
      (shapeIn === null ? '' : 'in ' + shapeIn + ' -> ') + 'out ' + row[3],
      'params ' + fmt(row[4]) + ' | MACs ' + fmt(row[5]),
      row[8] === null ? 'receptive field: global'
        : 'receptive field ' + row[8] + ' px, stride ' + row[9]
    ].join('\n');
  }

  // A block's ops, laid out by archspec: drawn the first time the block opens.
  function drawOps(g, data, layers, marker) {
    var edges = make('g', { 'class': 'edges', 'marker-end': marker });
    data.edges.forEach(function (e) {
      edges.appendChild(make('path', e[1] ? { d: e[0], 'class': 'skip' } : { d: e[0] }));
    });
    g.appendChild(edges);
    data.boxes.forEach(function (b) {
      var op = make('g', { 'class': 'op tip', transform: 'translate(' + b[0] + ',' + b[1] + ')' });
      var title = make('title');
      title.textContent = opTip(layers[b[7]], b[8]);
      op.appendChild(title);
      var cls = 'c-' + b[4] + (b[5] & 2 ? ' dashed' : '') + (b[5] & 4 ? ' attn' : '');
      op.appendChild(b[5] & 1
        ? make('circle', { cx: 0, cy: b[3] / 2, r: b[2] / 2, 'class': cls })
        : make('rect', { x: -b[2] / 2, y: 0, width: b[2], height: b[3], rx: 5, 'class': cls }));
      b[6].forEach(function (line) {
        var text = make('text', { x: line[0], y: line[1] });
        if (line[2] !== 'row') text.setAttribute('class', line[2]);
        text.textContent = line[3];
        op.appendChild(text);
      });
      g.appendChild(op);
    });
  }

  // ---- diagram layout: everything open stacks down one vertical axis (x = 0) ----
  function stack(container, top, ctx) {
    var flow = part(container, 'flow');
    flow.textContent = '';
    var y = top, l = 0, r = 0, bottom = null;
    for (var i = 0; i < container.children.length; i++) {
      var child = container.children[i];
      if (child === flow) continue;
      if (child.hasAttribute('data-group') && !child.firstChild) {
        drawOps(child, ctx.data.groups[child.getAttribute('data-group')], ctx.data.layers, ctx.marker);
      }
      var e = child.classList.contains('fixed') ? extent(child) : place(child, ctx);
      if (bottom !== null) {
        var path = document.createElementNS(SVGNS, 'path');
        set(path, { d: 'M0 ' + bottom + 'V' + y, 'marker-end': ctx.marker });
        flow.appendChild(path);
      }
      child.setAttribute('transform', 'translate(0,' + y + ')');
      bottom = y + e.h;
      y = bottom + GAP;
      l = Math.min(l, e.l);
      r = Math.max(r, e.r);
    }
    return { l: l, r: r, h: bottom === null ? top : bottom };
  }

  function place(node, ctx) {
    var open = node.classList.contains('open');
    var box = part(node, 'box'), frame = part(node, 'frame'), kids = part(node, 'kids');
    show(box, !open); show(frame, open); show(kids, open);
    node.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (!open) return extent(box);
    var inner = stack(kids, KIDS_TOP, ctx);
    var half = num(node, 'hw') / 2;
    var left = Math.min(inner.l - PAD, -half), right = Math.max(inner.r + PAD, half);
    var height = inner.h + PAD, width = right - left;
    set(part(frame, 'frame-rect'), { x: left, y: 0, width: width, height: height });
    var head = part(frame, 'head');
    set(head.querySelector('.head-rect'), { x: left, width: width });
    head.querySelector('.title').setAttribute('x', left + 8);
    head.querySelector('.hint').setAttribute('x', right - 10);
    return { l: left, r: right, h: height };
  }

  var floating = document.createElement('div');
  floating.className = 'floating';
  floating.hidden = true;
  floating.setAttribute('aria-hidden', 'true');
  document.body.appendChild(floating);
  function placeTip(x, y) {
    var w = floating.offsetWidth, h = floating.offsetHeight;
    var left = x + 16 + w > window.innerWidth ? x - 12 - w : x + 16;
    var top = y + 18 + h > window.innerHeight ? y - 12 - h : y + 18;
    floating.style.left = Math.max(4, left) + 'px';
    floating.style.top = Math.max(4, top) + 'px';
  }

  function Viewer(figure) {
    var svg = figure.querySelector('svg.dg');
    var root = svg.querySelector('.root');
    var info = figure.querySelector('.info');
    var ctx = {
      marker: root.getAttribute('data-marker'),
      data: modelData(figure.closest('section').id)
    };
    var vb = [0, 0, 100, 100];
    var drag = null, moved = false;

    function layout() { stack(root, 0, ctx); }
    function apply() {
      svg.setAttribute('viewBox', vb.map(function (v) { return Math.round(v * 100) / 100; }).join(' '));
    }
    function size() {
      var r = svg.getBoundingClientRect();
      return [Math.max(r.width, 1), Math.max(r.height, 1)];
    }
    // Fit the whole drawing ('all'), its width only, top first ('width'), or at first load
    // keep text near its real size (shrunk at most 1.2x).
    function fit(how) {
      var b = root.getBBox(), s = size(), m = 16;
      var wide = (b.width + 2 * m) / s[0], tall = (b.height + 2 * m) / s[1];
      var scale = how === 'all' ? Math.max(wide, tall) : Math.max(wide, 1);
      if (how === 'first') scale = Math.min(Math.max(wide, tall, 1), 1.2);
      vb = [b.x + b.width / 2 - s[0] * scale / 2, b.y - m, s[0] * scale, s[1] * scale];
      apply();
    }
    function zoom(factor, cx, cy) {
      var s = size();
      if (cx === undefined) { cx = s[0] / 2; cy = s[1] / 2; }
      var scale = vb[2] / s[0] * factor;
      if (scale < 0.05 || scale > 40) return;
      var px = vb[0] + cx / s[0] * vb[2], py = vb[1] + cy / s[1] * vb[3];
      vb = [px - (px - vb[0]) * factor, py - (py - vb[1]) * factor, vb[2] * factor, vb[3] * factor];
      apply();
    }
    function toggle(node, open) {
      unhover(); // the box under the pointer is about to move or hide
      node.classList.toggle('open', open);
      layout();
      if (node.classList.contains('open')) reveal(node);
    }
    // Bring an opened node into view: shift sideways, zoom out if it is wider than the view,
    // and scroll down to it if it opened below the visible part.
    function reveal(node) {
      var s = svg.getBoundingClientRect(), n = node.getBoundingClientRect(), m = 12;
      if (n.width + 2 * m > s.width) {
        zoom((n.width + 2 * m) / s.width, n.left + n.width / 2 - s.left, n.top - s.top);
        n = node.getBoundingClientRect();
      }
      var k = vb[2] / s.width, dx = 0, dy = 0;
      if (n.right + m > s.right) dx = n.right + m - s.right;
      if (n.left - m < s.left) dx = n.left - m - s.left;
      if (n.top < s.top || n.top > s.bottom - 60) dy = n.top - m - s.top;
      vb[0] += dx * k;
      vb[1] += dy * k;
      apply();
    }
    function level(name) {
      unhover();
      svg.querySelectorAll('.node').forEach(function (node) {
        var open = name === 'layer' || (name === 'block' && node.classList.contains('stage'));
        node.classList.toggle('open', open);
      });
      layout();
      fit('width');
    }
    function tip(el) {
      var g = el && el.closest ? el.closest('.tip') : null;
      var title = g ? g.querySelector(':scope > title') : null;
      if (!title) return null;
      info.textContent = title.textContent || g.getAttribute('data-tip');
      return g;
    }

    svg.addEventListener('click', function (e) {
      if (moved) { moved = false; return; }
      var target = e.target.closest('.toggle');
      if (!target) return;
      var node = target.closest('.node');
      toggle(node);
      node.focus({ preventScroll: true });
    });
    svg.addEventListener('keydown', function (e) {
      var node = e.target.closest ? e.target.closest('.node') : null;
      if (node && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        toggle(node);
      } else if (e.key === '+' || e.key === '=') {
        zoom(1 / 1.25);
      } else if (e.key === '-') {
        zoom(1.25);
      }
    });
    svg.addEventListener('wheel', function (e) {
      if (!e.ctrlKey && !e.metaKey) return; // a plain wheel scrolls the page
      e.preventDefault();
      var r = svg.getBoundingClientRect();
      zoom(Math.exp(e.deltaY * 0.002), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    svg.addEventListener('pointerdown', function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, vb: vb.slice(), id: e.pointerId };
      moved = false;
    });
    svg.addEventListener('pointermove', function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!moved) {
        moved = true;
        unhover();
        svg.classList.add('panning');
        svg.setPointerCapture(drag.id);
      }
      var s = size();
      vb[0] = drag.vb[0] - dx * vb[2] / s[0];
      vb[1] = drag.vb[1] - dy * vb[3] / s[1];
      apply();
    });
    function release() { drag = null; svg.classList.remove('panning'); }
    svg.addEventListener('pointerup', release);
    svg.addEventListener('pointercancel', release);
    // Hover: the box's <title> shows at once beside the pointer. While shown, the title is
    // emptied so that the browser's own (late) tooltip does not repeat it.
    var hovered = null;
    function unhover() {
      if (!hovered) return;
      hovered.querySelector(':scope > title').textContent = hovered.getAttribute('data-tip');
      hovered = null;
      floating.hidden = true;
    }
    svg.addEventListener('mouseover', function (e) {
      var g = tip(e.target);
      if (g === hovered) return;
      unhover();
      if (!g || drag) return;
      var title = g.querySelector(':scope > title');
      g.setAttribute('data-tip', title.textContent);
      title.textContent = '';
      hovered = g;
      floating.textContent = g.getAttribute('data-tip');
      floating.hidden = false;
    });
    svg.addEventListener('mousemove', function (e) {
      if (hovered) placeTip(e.clientX, e.clientY);
    });
    svg.addEventListener('mouseleave', unhover);
    svg.addEventListener('focusin', function (e) {
      var node = e.target.closest ? e.target.closest('.node') : null;
      if (!node) return;
      var shown = node.classList.contains('open') ? part(part(node, 'frame'), 'head') : part(node, 'box');
      tip(shown);
    });
    figure.querySelector('.tools').addEventListener('click', function (e) {
      var b = e.target.closest('button');
      if (!b) return;
      if (b.dataset.level) level(b.dataset.level);
      else if (b.dataset.zoom === 'in') zoom(1 / 1.25);
      else if (b.dataset.zoom === 'out') zoom(1.25);
      else if (b.dataset.zoom === 'fit') fit('all');
    });
    layout();
    fit('first');
  }

  // ---- tables: sort by a column (numbers first largest), filter rows by words ----
  function sortBy(table, th) {
    var row = th.parentElement;
    var index = Array.prototype.indexOf.call(row.children, th);
    var numeric = th.classList.contains('num');
    var now = th.getAttribute('aria-sort');
    var dir = now === 'descending' ? 'ascending' : now === 'ascending' ? 'descending'
      : numeric ? 'descending' : 'ascending';
    Array.prototype.forEach.call(row.children, function (c) { c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    var sign = dir === 'ascending' ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (r) {
      var c = r.cells[index];
      return numeric ? parseFloat(c.getAttribute('data-v')) : c.textContent;
    };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      return sign * (numeric ? x - y : x.localeCompare(y));
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  // The per-layer table, filled from the model's JSON when it is first shown.
  function fillLayers(table) {
    var body = table.tBodies[0];
    if (body.rows.length) return;
    var rows = modelData(table.getAttribute('data-model')).layers;
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      r.forEach(function (value, i) {
        var td = document.createElement('td');
        if (i === 6) { // MACs %: sorts by the MACs, drawn as a bar
          td.setAttribute('data-v', r[5]);
          td.className = 'bar';
          td.style.setProperty('--w', value);
          td.textContent = value;
        } else if (i >= 4) {
          td.setAttribute('data-v', value === null ? -1 : value);
          td.textContent = value === null ? '-' : fmt(value);
        } else {
          td.textContent = value;
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    document.getElementById(table.id + '-count').textContent = rows.length + ' rows';
  }

  function filter(input) {
    var table = document.getElementById(input.getAttribute('data-filter'));
    var count = document.getElementById(table.id + '-count');
    var rows = table.tBodies[0].rows;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].textContent.toLowerCase();
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      rows[i].hidden = !hit;
      if (hit) shown++;
    }
    count.textContent = words.length ? shown + ' of ' + rows.length + ' rows' : rows.length + ' rows';
  }

  // ---- diff between any two models (computed by archspec diff when the page was made) ----
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function table(caption, header, rows) {
    var t = el('table'), head = el('thead'), tr = el('tr'), body = el('tbody');
    t.appendChild(el('caption', caption));
    header.forEach(function (h, i) {
      var th = el('th', h, i > 2 ? 'num' : '');
      th.scope = 'col';
      tr.appendChild(th);
    });
    head.appendChild(tr);
    t.appendChild(head);
    rows.forEach(function (cells) {
      var r = el('tr');
      cells.forEach(function (c) {
        var td = el('td', c.text, c.cls);
        if (c.v !== undefined) td.setAttribute('data-v', c.v);
        r.appendChild(td);
      });
      body.appendChild(r);
    });
    t.appendChild(body);
    var wrap = el('div', undefined, 'scroll');
    wrap.appendChild(t);
    return wrap;
  }

  function listing(title, items) {
    var d = el('details'), s = el('summary', title + ' (' + items.length + ')'), ul = el('ul');
    d.appendChild(s);
    items.forEach(function (text) { ul.appendChild(el('li', text)); });
    d.appendChild(ul);
    return d;
  }

  // [start, length, start, length, ...] -> the indexes of the runs
  function expand(runs) {
    var out = [];
    for (var i = 0; i < runs.length; i += 2) {
      for (var k = 0; k < runs[i + 1]; k++) out.push(runs[i] + k);
    }
    return out;
  }

  function delta(n) { return { text: n ? signed(n) : '0', v: n, cls: n > 0 ? 'up' : n < 0 ? 'down' : '' }; }

  function DiffView(section) {
    var data = JSON.parse(section.querySelector('#diff-data').textContent);
    var a = section.querySelector('#diff-a'), b = section.querySelector('#diff-b');
    var out = section.querySelector('#diff-out');
    data.models.forEach(function (m, i) {
      a.appendChild(new Option(m.name, i));
      b.appendChild(new Option(m.name, i));
    });
    b.value = '1';
    function render() {
      var i = +a.value, j = +b.value;
      out.textContent = '';
      if (i === j) { out.appendChild(el('p', 'Pick two different models.', 'meta')); return; }
      var d = data.pairs[i + ' ' + j], A = data.models[i], B = data.models[j];
      var reshaped = expand(d.reshaped), added = expand(d.added), removed = expand(d.removed);
      var shapeA = {};
      A.tensors.forEach(function (t) { shapeA[t[0]] = t[1]; });
      var counts = el('div', undefined, 'counts');
      [['tensors in ' + A.name, A.tensors.length], ['carry over unchanged', d.unchanged],
       ['change shape', reshaped.length], ['new in ' + B.name, added.length],
       ['only in ' + A.name, removed.length]].forEach(function (c) {
        var box = el('div');
        box.appendChild(el('b', fmt(c[1])));
        box.appendChild(document.createTextNode(c[0]));
        counts.appendChild(box);
      });
      out.appendChild(counts);
      out.appendChild(table(A.name + ' -> ' + B.name + ': per stage',
        ['stage', 'shape in ' + A.name, 'shape in ' + B.name, 'change in params', 'change in MACs'],
        d.stages.map(function (s) {
          return [{ text: s[0] }, { text: s[1] }, { text: s[2] }, delta(s[3]), delta(s[4])];
        })));
      out.appendChild(listing('Change shape', reshaped.map(function (k) {
        var t = B.tensors[k];
        return t[0] + ': ' + shapeA[t[0]] + ' -> ' + t[1];
      })));
      out.appendChild(listing('New in ' + B.name, added.map(function (k) {
        return B.tensors[k][0] + ' ' + B.tensors[k][1];
      })));
      out.appendChild(listing('Only in ' + A.name, removed.map(function (k) {
        return A.tensors[k][0] + ' ' + A.tensors[k][1];
      })));
    }
    a.addEventListener('change', render);
    b.addEventListener('change', render);
    render();
  }

  document.querySelectorAll('figure.diagram').forEach(function (f) { Viewer(f); });
  document.querySelectorAll('table.sortable').forEach(function (t) {
    t.tHead.addEventListener('click', function (e) {
      var button = e.target.closest('button');
      if (button) sortBy(t, button.parentElement);
    });
  });
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    input.addEventListener('input', function () { filter(input); });
  });
  document.querySelectorAll('table[data-model]').forEach(function (t) {
    t.closest('details').addEventListener('toggle', function () { fillLayers(t); });
  });
  var diff = document.getElementById('diff');
  if (diff) DiffView(diff);
}());
