import fs from 'node:fs';
import path from 'node:path';
import type { BackendInfo } from '../backend/select.ts';
import type { AccuracyReport } from '../eval/accuracy.ts';
import type { FusionKind } from '../fusion/kinds.ts';
import type { RunConfig } from '../config/config.ts';
import { train } from '../train/train.ts';
import { makeDirectory } from '../util/make_dir.ts';

export interface AblationRow {
  fusion: FusionKind;
  parameters: number;
  samplesPerSecond: number;
  peakRssMb: number;
  seconds: number;
  val?: AccuracyReport;
}

export interface AblationOptions {
  dataDir: string;
  outDir: string;
  config: RunConfig;
  fusions: FusionKind[];
  backend: BackendInfo;
  subset?: number;
  log: (line: string) => void;
}

/** Trains one model per final fusion (MFB still scores the image regions) with the same encoders, data, budget and seed, and tabulates them. */
export async function ablate(o: AblationOptions): Promise<AblationRow[]> {
  const rows: AblationRow[] = [];
  makeDirectory(o.outDir);
  for (const fusion of o.fusions) {
    const config: RunConfig = { ...o.config, model: { ...o.config.model, fusion: { ...o.config.model.fusion, kind: fusion } } };
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
    const started = Date.now();
    o.log(`— ${fusion}`);
    try {
      const { model, history } = await train({ dataDir: o.dataDir, outDir: path.join(o.outDir, fusion), config, backend: o.backend, resume: false, subset: o.subset, log: o.log });
      rows.push({
        fusion,
        parameters: model.net.store.countTrainable(),
        samplesPerSecond: history.reduce((a, m) => a + m.samplesPerSecond, 0) / history.length,
        peakRssMb: Math.max(peak, process.memoryUsage().rss) / 2 ** 20,
        seconds: (Date.now() - started) / 1000,
        val: history.at(-1)?.val,
      });
      model.dispose();
    } finally {
      clearInterval(sampler);
    }
  }
  fs.writeFileSync(path.join(o.outDir, 'ablation.json'), `${JSON.stringify(rows, null, 2)}\n`);
  fs.writeFileSync(path.join(o.outDir, 'ablation.html'), ablationHtml(rows));
  return rows;
}

function columns(rows: AblationRow[]): string[] {
  const groups = new Set<string>();
  for (const r of rows) for (const k of Object.keys({ ...r.val?.perAnswerType, ...r.val?.perGroup })) groups.add(k);
  return [...groups];
}

/** The table's header and cells, shared by the text and HTML forms. */
function table(rows: AblationRow[]): { header: string[]; body: string[][] } {
  const cols = columns(rows);
  const header = ['fusion', 'overall', ...cols, 'parameters', 'samples/s', 'peak RSS MB'];
  const body = rows.map((r) => [
    r.fusion,
    r.val?.overall.toFixed(2) ?? '–',
    ...cols.map((c) => (r.val?.perGroup[c] ?? r.val?.perAnswerType[c])?.toFixed(2) ?? '–'),
    r.parameters.toLocaleString('en'),
    r.samplesPerSecond.toFixed(1),
    r.peakRssMb.toFixed(0),
  ]);
  return { header, body };
}

export function formatAblation(rows: AblationRow[]): string {
  const { header, body } = table(rows);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [header, ...body].map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

function ablationHtml(rows: AblationRow[]): string {
  const { header, body } = table(rows);
  const head = header.map((h) => `<th>${h}</th>`).join('');
  const cells = body.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>vqa fusion ablation</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}td:first-child{text-align:left}</style></head>
<body><h1>Fusion ablation</h1><p>Validation accuracy (VQA accuracy, %) after the same training budget for each fusion.</p>
<table><tr>${head}</tr>\n${cells}</table></body></html>\n`;
}
