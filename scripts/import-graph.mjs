// Folder-level import graph of src/: every arrow "a → b" (a file in folder a imports one in b),
// with the number of imports, then the pairs of folders that import each other.
// Usage: node scripts/import-graph.mjs [src]
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? 'src');
const folderOf = (file) => path.relative(root, path.dirname(file)).split(path.sep)[0] || '.';
const edges = new Map();
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) {
      for (const [, spec] of fs.readFileSync(p, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
        const target = path.resolve(path.dirname(p), spec);
        if (!target.startsWith(root)) continue;
        const [a, b] = [folderOf(p), folderOf(target)];
        if (a !== b) edges.set(`${a} → ${b}`, (edges.get(`${a} → ${b}`) ?? 0) + 1);
      }
    }
  }
};
walk(root);
const sorted = [...edges].sort(([x], [y]) => (x < y ? -1 : 1));
for (const [edge, n] of sorted) console.log(`${edge} (${n})`);
const mutual = sorted.map(([e]) => e.split(' → ')).filter(([a, b]) => a < b && edges.has(`${b} → ${a}`));
console.log(
  `${edges.size} folder-to-folder arrows; ${mutual.length} pairs of folders import each other${mutual.length ? ': ' + mutual.map(([a, b]) => `${a} ↔ ${b}`).join(', ') : ''}`,
);
