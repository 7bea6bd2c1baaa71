// Sends the form to /v1/answer and draws the answers, the first image glimpse as a heat map
// over the image, and the question tokens shaded by their first-glimpse attention.
const form = document.getElementById('ask');
const errorBox = document.getElementById('error');

function drawHeat(img, grid, weights) {
  const canvas = document.getElementById('heat');
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const [h, w] = grid;
  const max = Math.max(...weights);
  const cw = canvas.width / w;
  const ch = canvas.height / h;
  weights.forEach((v, i) => {
    ctx.fillStyle = `rgba(255, 0, 0, ${(0.6 * v) / max})`;
    ctx.fillRect((i % w) * cw, Math.floor(i / w) * ch, cw, ch);
  });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  const data = new FormData(form);
  const res = await fetch('/v1/answer', { method: 'POST', body: data });
  const body = await res.json();
  if (!res.ok) {
    errorBox.textContent = body.error ? body.error.message : `error ${res.status}`;
    return;
  }
  const list = document.getElementById('answers');
  list.replaceChildren(
    ...body.answers.map((a) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.round(200 * a.score)}px`;
      li.append(`${a.answer} (${(100 * a.score).toFixed(1)}%)`, bar);
      return li;
    }),
  );
  const tokens = document.getElementById('tokens');
  tokens.replaceChildren(
    ...body.attention.question.map((t) => {
      const span = document.createElement('span');
      span.textContent = t.token;
      span.style.background = `rgba(51, 102, 204, ${t.weights[0]})`;
      return span;
    }),
  );
  const img = new Image();
  img.onload = () => drawHeat(img, body.attention.image.grid, body.attention.image.weights[0]);
  img.src = URL.createObjectURL(data.get('image'));
  document.getElementById('result').hidden = false;
});
