// The classifier's page: upload an image, then show its most likely classes with score bars.
const form = document.getElementById('classify');
const fileInput = document.getElementById('file');
const errorBox = document.getElementById('error');
const result = document.getElementById('result');

async function showModel() {
  const models = await (await fetch('/v1/models')).json();
  document.getElementById('model').textContent = `Model: ${models[0].name}`;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  result.hidden = true;
  const image = fileInput.files[0];
  if (!image) {
    errorBox.textContent = 'Choose an image.';
    return;
  }
  const data = new FormData();
  data.append('image', image, image.name);
  data.append('top_k', '5');
  const res = await fetch('/v1/classify', { method: 'POST', body: data });
  const body = await res.json();
  if (!res.ok) {
    errorBox.textContent = body.error ? body.error.message : `error ${res.status}`;
    return;
  }
  document.getElementById('preview').src = URL.createObjectURL(image);
  document.getElementById('classes').replaceChildren(
    ...body.classes.map((c) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, Math.round(240 * c.score))}px`;
      li.append(bar, ` ${c.label} ${(100 * c.score).toFixed(1)}%`);
      return li;
    }),
  );
  result.hidden = false;
  document.body.dataset.classified = 'yes';
});

showModel().catch((err) => (errorBox.textContent = `could not load the model's name (${err.message})`));
