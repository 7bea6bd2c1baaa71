#!/usr/bin/env node
// Draws learning curves (val accuracy against questions seen) as an HTML page of SVG charts.
// usage: node scripts/learning-curves.mjs curves.json out.html
// curves.json: { "title": "...", "note": "...", "charts": [{ "title": "...", "series": [
//   { "label": "...", "points": [[questionsSeen, accuracy], ...] }
//   | { "label": "...", "metrics": "RUN/metrics.jsonl", "questionsPerEpoch": 32000, "type": "overall" | "<question type>" }
// ] }] }
import fs from 'node:fs';
import path from 'node:path';

const COLOURS = ['#000', '#36c', '#c33', '#393', '#c93', '#c3c', '#39c', '#963', '#666'];
const [specFile, outFile] = process.argv.slice(2);
if (!specFile || !outFile) {
  console.error('usage: node scripts/learning-curves.mjs curves.json out.html');
  process.exit(2);
}
const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
const base = path.dirname(specFile);

/** The points of a series: given, or read from a training run's metrics.jsonl. */
function pointsOf(s) {
  if (s.points) return s.points;
  const lines = fs
    .readFileSync(path.resolve(base, s.metrics), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // metrics.jsonl counts epochs from 1; files written before that start at 0
  const first = lines.some((m) => m.epoch === 0) ? 1 : 0;
  return lines.filter((m) => m.val).map((m) => [(m.epoch + first) * s.questionsPerEpoch, s.type === 'overall' ? m.val.overall : m.val.perQuestionType[s.type]]);
}

const escape = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function chart(c) {
  const series = c.series.map((s) => ({ ...s, points: pointsOf(s) }));
  const maxX = Math.max(...series.flatMap((s) => s.points.map((p) => p[0])));
  const [x0, y0, w, h] = [40, 40, 560, 220];
  const px = (x) => (x0 + (w * x) / maxX).toFixed(1);
  const py = (y) => (y0 + h - (h * y) / 100).toFixed(1);
  const grid = [0, 25, 50, 75, 100].map((v) => `<text x="4" y="${Number(py(v)) + 4}">${v}</text><line x1="${x0}" x2="${x0 + w}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`);
  const lines = series.map((s, i) => {
    const colour = s.colour ?? COLOURS[i % COLOURS.length];
    const pts = s.points.map(([x, y]) => `${px(x)},${py(y)}`).join(' ');
    return `<polyline fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,4"' : ''} points="${pts}"/>\n<text x="${x0 + 5}" y="${y0 + 14 + 13 * i}" fill="${colour}">${escape(s.label)}</text>`;
  });
  return `<h2>${escape(c.title)}</h2><svg width="640" height="300" font-family="sans-serif" font-size="11">
<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#ccc"/>
${grid.join('\n')}
<text x="260" y="292">questions seen (thousands, max ${Math.round(maxX / 1000)}k)</text>
${lines.join('\n')}</svg>`;
}

const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(spec.title)}</title><style>body{font-family:sans-serif;margin:2em;max-width:760px}</style></head><body><h1>${escape(spec.title)}</h1><p>${escape(spec.note ?? '')}</p>
${spec.charts.map(chart).join('\n')}
</body></html>
`;
fs.writeFileSync(outFile, html);
console.log(`wrote ${outFile}: ${spec.charts.length} charts`);
