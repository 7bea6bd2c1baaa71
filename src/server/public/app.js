// The page: pick or upload an image, ask, then show the answers with score bars, each image
// glimpse as a heat map over the image, and for each glimpse the question words shaded by its weights.
const form = document.getElementById('ask');
const fileInput = document.getElementById('file');
const errorBox = document.getElementById('error');
let exampleBlob = null;
/** a question each bundled data set's models answer */
const SUGGESTED_QUESTIONS = { 'sort-of-clevr': 'What is the shape of the red object?', 'clevr-lite': 'What color is the large circle?' };

async function loadExamples() {
  const names = await (await fetch('/v1/examples')).json();
  const box = document.getElementById('examples');
  if (names.length === 0) box.textContent = "No example images for this model's data set: upload one.";
  for (const name of names) {
    // a button around each image: it can be picked with the keyboard too
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('aria-pressed', 'false');
    const img = document.createElement('img');
    img.src = `examples/${name}`;
    img.alt = `example ${name}`;
    button.append(img);
    button.addEventListener('click', async () => {
      box.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', 'false'));
      button.setAttribute('aria-pressed', 'true');
      exampleBlob = await (await fetch(img.src)).blob();
      fileInput.value = '';
    });
    box.append(button);
  }
  // a question this model can answer, as the placeholder
  const card = await (await fetch('/v1/model')).json();
  const suggested = SUGGESTED_QUESTIONS[card.data?.name];
  if (suggested) document.getElementById('question').placeholder = suggested;
  const models = await (await fetch('/v1/models')).json();
  const line = document.getElementById('model');
  line.textContent = `Model: ${models[0].name}`;
  for (const other of models.slice(1)) {
    const link = document.createElement('a');
    link.href = other.url;
    link.textContent = other.name;
    line.append(' · switch to ', link);
  }
}

/**
 * One glimpse: the image at its own aspect ratio, the regions the glimpse weighed little darkened
 * (a colour overlay would hide objects of that colour), each region's weight relative to the
 * glimpse's largest.
 */
function drawGlimpse(img, grid, weights, index) {
  const figure = document.createElement('figure');
  const canvas = document.createElement('canvas');
  const scale = 256 / Math.max(img.naturalWidth, img.naturalHeight);
  canvas.width = Math.round(img.naturalWidth * scale);
  canvas.height = Math.round(img.naturalHeight * scale);
  canvas.className = 'heat';
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const [h, w] = grid;
  const max = Math.max(...weights) || 1;
  const cw = canvas.width / w;
  const ch = canvas.height / h;
  weights.forEach((v, i) => {
    ctx.fillStyle = `rgba(0, 0, 0, ${0.75 * (1 - v / max)})`;
    ctx.fillRect((i % w) * cw, Math.floor(i / w) * ch, cw, ch);
  });
  const caption = document.createElement('figcaption');
  caption.textContent = `glimpse ${index + 1}`;
  figure.append(canvas, caption);
  return figure;
}

/** Word pieces ("a", "##r", "##e") joined back into the word the user typed, their weights summed. */
function joinPieces(tokens) {
  const words = [];
  for (const t of tokens) {
    const last = words.at(-1);
    if (t.token.startsWith('##') && last) {
      last.token += t.token.slice(2);
      last.weights = last.weights.map((w, g) => w + t.weights[g]);
    } else words.push({ token: t.token, weights: [...t.weights] });
  }
  return words;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  // the previous answers go as soon as a new question is asked, so an error never sits above them
  document.getElementById('result').hidden = true;
  delete document.body.dataset.answered;
  const image = fileInput.files[0] ?? exampleBlob;
  if (!image) {
    errorBox.textContent = 'Choose an image or click an example.';
    return;
  }
  const data = new FormData();
  data.append('image', image, image.name ?? 'example.png');
  data.append('question', document.getElementById('question').value);
  data.append('top_k', '5');
  const res = await fetch('/v1/answer', { method: 'POST', body: data });
  const body = await res.json();
  if (!res.ok) {
    errorBox.textContent = body.error ? body.error.message : `error ${res.status}`;
    return;
  }
  // What the answer says about itself: words the model never saw, an image unlike its training scenes.
  const warnings = [];
  if (body.unknown_words.length > 0) warnings.push(`The model never saw these words in training: ${body.unknown_words.join(', ')}. The answer may ignore them.`);
  if (body.out_of_distribution)
    warnings.push(`This image is unlike the scenes the model was trained on (distance ${body.image_distance.toFixed(1)}, above 1 is unfamiliar): the answer is a guess.`);
  document.getElementById('warnings').replaceChildren(
    ...warnings.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );
  document.getElementById('answers').replaceChildren(
    ...body.answers.map((a) => {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, Math.round(240 * a.score))}px`;
      li.append(`${a.answer} — ${(100 * a.score).toFixed(1)}%`, bar);
      return li;
    }),
  );
  // one line per glimpse: the question's words shaded by the weight that glimpse gave them
  const words = joinPieces(body.attention.question);
  const glimpseCount = words[0]?.weights.length ?? 0;
  document.getElementById('tokens').replaceChildren(
    ...Array.from({ length: glimpseCount }, (_, g) => {
      const line = document.createElement('p');
      line.className = 'glimpse-words';
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = `glimpse ${g + 1}`;
      const spans = words.map((t) => {
        const span = document.createElement('span');
        span.className = 'token';
        span.textContent = t.token;
        span.title = t.weights[g].toFixed(2);
        span.style.background = `rgba(51, 102, 204, ${Math.min(1, t.weights[g] * 2)})`;
        return span;
      });
      line.append(label, ...spans);
      return line;
    }),
  );
  const img = new Image();
  img.onload = () => {
    const { grid, weights } = body.attention.image;
    document.getElementById('glimpses').replaceChildren(...weights.map((w, i) => drawGlimpse(img, grid, w, i)));
    document.getElementById('result').hidden = false;
    document.body.dataset.answered = 'yes';
  };
  img.src = URL.createObjectURL(image);
});

loadExamples();
