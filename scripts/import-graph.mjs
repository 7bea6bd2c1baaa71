// Folder-level import graph of src/: every arrow "a → b" (a file in folder a imports one in b),
// with the number of imports, then the pairs of folders that import each other.
// With --check, prints only the imports that break the layering of docs/architecture.md (a folder
// imports only folders of earlier layers, or of its own layer without a cycle) and exits 1 if any.
// Usage: node scripts/import-graph.mjs [--check] [src]
import fs from 'node:fs';
import path from 'node:path';

/** The layers of docs/architecture.md, first to last. */
const LAYERS = [
  ['.', 'backend', 'util'],
  ['nn'],
  ['fusion', 'vision', 'language', 'pretrained'],
  ['modules', 'data'],
  ['config'],
  ['model'],
  ['inputs'],
  ['train', 'eval', 'infer', 'export', 'ablate', 'classify', 'server'],
  ['cli', 'library'],
];

const args = process.argv.slice(2);
const check = args.includes('--check');
const root = path.resolve(args.find((a) => !a.startsWith('--')) ?? 'src');
const folderOf = (file) => path.relative(root, path.dirname(file)).split(path.sep)[0] || '.';
const edges = new Map();
/** the files behind each arrow, for --check's messages */
const files = new Map();
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) {
      for (const [, spec] of fs.readFileSync(p, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
        const target = path.resolve(path.dirname(p), spec);
        if (!target.startsWith(root)) continue;
        const [a, b] = [folderOf(p), folderOf(target)];
        if (a === b) continue;
        const edge = `${a} → ${b}`;
        edges.set(edge, (edges.get(edge) ?? 0) + 1);
        files.set(edge, [...(files.get(edge) ?? []), `${path.relative(process.cwd(), p)} imports ${spec}`]);
      }
    }
  }
};
walk(root);
const sorted = [...edges].sort(([x], [y]) => (x < y ? -1 : 1));
const mutual = sorted.map(([e]) => e.split(' → ')).filter(([a, b]) => a < b && edges.has(`${b} → ${a}`));

if (check) {
  const layer = (folder) => LAYERS.findIndex((l) => l.includes(folder));
  const problems = [];
  for (const folder of new Set(sorted.flatMap(([e]) => e.split(' → ')))) if (layer(folder) < 0) problems.push(`src/${folder}/ is in no layer of scripts/import-graph.mjs`);
  for (const [edge] of sorted) {
    const [a, b] = edge.split(' → ');
    if (layer(b) > layer(a)) problems.push(...files.get(edge).map((f) => `${f}: ${a}/ (layer ${layer(a) + 1}) imports ${b}/ (layer ${layer(b) + 1}), a later layer`));
  }
  for (const [a, b] of mutual) problems.push(`${a}/ and ${b}/ import each other`);
  for (const p of problems) console.log(p);
  console.log(problems.length ? `${problems.length} imports break the layering` : `imports follow the layering (${edges.size} folder-to-folder arrows, no cycle)`);
  process.exit(problems.length ? 1 : 0);
}
for (const [edge, n] of sorted) console.log(`${edge} (${n})`);
console.log(
  `${edges.size} folder-to-folder arrows; ${mutual.length} pairs of folders import each other${mutual.length ? ': ' + mutual.map(([a, b]) => `${a} ↔ ${b}`).join(', ') : ''}`,
);
