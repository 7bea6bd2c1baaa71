import fs from 'node:fs';
import type { EpochStats } from './epoch_metrics.ts';

/** An epoch as the report shows it: the training figures and the validation accuracy, if any. */
export type ReportRow = Pick<EpochStats, 'epoch' | 'loss' | 'trainAccuracy' | 'samplesPerSecond'> & { val?: number };

/** A polyline chart of one or more series over epochs, as inline SVG. */
function chart(title: string, series: { name: string; colour: string; values: number[] }[]): string {
  const w = 480;
  const h = 200;
  const pad = 32;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const lo = Math.min(0, ...all);
  const hi = Math.max(...all, lo + 1e-9);
  const n = Math.max(...series.map((s) => s.values.length), 2);
  const x = (i: number) => pad + (i * (w - 2 * pad)) / (n - 1);
  const y = (v: number) => h - pad - ((v - lo) * (h - 2 * pad)) / (hi - lo);
  const lines = series
    .map((s) => `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  const legend = series.map((s, i) => `<text x="${pad + i * 140}" y="14" fill="${s.colour}">${s.name}</text>`).join('');
  return `<h2>${title}</h2><svg width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="none" stroke="#ccc"/>${legend}${lines}
<text x="4" y="${pad + 4}">${hi.toFixed(2)}</text><text x="4" y="${h - pad}">${lo.toFixed(2)}</text></svg>`;
}

/** Writes a self-contained HTML page with loss and accuracy curves per epoch. */
export function writeReport(file: string, name: string, history: ReportRow[]): void {
  const rows = history
    .map(
      (m) =>
        `<tr><td>${m.epoch + 1}</td><td>${m.loss.toFixed(4)}</td><td>${m.trainAccuracy.toFixed(2)}</td><td>${m.val?.toFixed(2) ?? '–'}</td><td>${m.samplesPerSecond.toFixed(1)}</td></tr>`,
    )
    .join('');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${name} training report</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}</style></head><body>
<h1>${name}</h1>
${chart('Loss', [{ name: 'train loss', colour: '#c33', values: history.map((m) => m.loss) }])}
${chart('Accuracy (%)', [
  { name: 'train', colour: '#36c', values: history.map((m) => m.trainAccuracy) },
  { name: 'val', colour: '#393', values: history.map((m) => m.val ?? Number.NaN) },
])}
<h2>Epochs</h2><table><tr><th>epoch</th><th>loss</th><th>train acc</th><th>val acc</th><th>samples/s</th></tr>${rows}</table>
</body></html>\n`;
  fs.writeFileSync(file, html);
}
