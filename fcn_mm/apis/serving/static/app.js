// The page of tools/serve.py: send an image to POST /predict, draw the label map over it.
// One request per image (format=json&include_labels=1): the summary for the legend and
// table, and the label map as an indexed PNG whose palette colours are drawn over the
// image at the slider's opacity (the same blend as format=overlay).
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { image: null, labels: null };

  function setState(name) { document.body.dataset.state = name; }

  function showError(message) {
    $('error').textContent = message;
    $('error').hidden = false;
    $('status').textContent = '';
    setState('error');
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error('the browser cannot decode this image'));
      img.src = url;
    });
  }

  function drawOverlay() {
    if (!state.image || !state.labels) return;
    const canvas = $('overlay');
    const opacity = Number($('opacity').value);
    canvas.width = state.image.naturalWidth;
    canvas.height = state.image.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = 1;
    ctx.drawImage(state.image, 0, 0);
    ctx.globalAlpha = opacity;
    ctx.drawImage(state.labels, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
    $('opacity-value').textContent = opacity.toFixed(2);
  }

  function fillClasses(summary) {
    const legend = $('legend');
    const body = $('class-table').querySelector('tbody');
    legend.replaceChildren();
    body.replaceChildren();
    for (const cls of summary.classes) {
      const colour = `rgb(${cls.color.join(',')})`;
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colour;
      item.append(swatch, document.createTextNode(cls.name));
      legend.append(item);
      const row = document.createElement('tr');
      const cells = [cls.name, String(cls.pixels), (100 * cls.share).toFixed(2) + ' %',
                     cls.bbox.join(', ')];
      cells.forEach((text, i) => {
        const cell = document.createElement('td');
        if (i === 0) cell.append(swatch.cloneNode());
        cell.append(document.createTextNode(text));
        if (i === 1 || i === 2) cell.className = 'num';
        row.append(cell);
      });
      body.append(row);
    }
  }

  async function segment(file) {
    $('error').hidden = true;
    if (!file) return;
    setState('busy');
    $('status').textContent = `segmenting ${file.name}…`;
    try {
      const response = await fetch('/predict?format=json&include_labels=1', {
        method: 'POST', body: file,
        headers: { 'Content-Type': file.type || 'application/octet-stream' },
      });
      const text = await response.text();
      let summary;
      try { summary = JSON.parse(text); } catch (e) { summary = { error: text }; }
      if (!response.ok) throw new Error(`${response.status}: ${summary.error || text}`);
      state.image = await loadImage(URL.createObjectURL(file));
      state.labels = await loadImage('data:image/png;base64,' + summary.label_png);
      $('input-image').src = state.image.src;
      fillClasses(summary);
      $('result').hidden = false;
      drawOverlay();
      $('status').textContent = `${file.name}: ${summary.width}x${summary.height}, ` +
        `${summary.classes.length} class(es) present`;
      setState('done');
    } catch (e) {
      showError(`cannot segment ${file.name}: ${e.message}`);
    }
  }

  async function describeModel() {
    try {
      const info = await (await fetch('/healthz')).json();
      $('model-info').textContent = `model ${info.model} · config ${info.config} · ` +
        `${info.precision} · ${info.backend}`;
    } catch (e) {
      $('model-info').textContent = 'the service does not answer /healthz';
    }
  }

  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    segment(e.dataTransfer.files[0]);
  });
  $('file-input').addEventListener('change', (e) => segment(e.target.files[0]));
  $('opacity').addEventListener('input', drawOverlay);
  describeModel();
})();
