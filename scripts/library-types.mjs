// Writes lib/index.d.ts, the library's types, from src/library/index.ts alone (its types are its own, so
// the declaration needs no other file); `--check` fails instead when the committed file is stale.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vqa-types-'));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const flags = ['--declaration', '--emitDeclarationOnly', '--outDir', out, '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext'];
const more = ['--strict', '--allowImportingTsExtensions', '--esModuleInterop', '--skipLibCheck', '--resolveJsonModule', '--types', 'node'];
try {
  execFileSync(process.execPath, [tsc, 'src/library/index.ts', 'src/types/optional.d.ts', ...flags, ...more], { cwd: root, stdio: 'inherit' });
  const declared = fs.readFileSync(path.join(out, 'library', 'index.d.ts'), 'utf8');
  const leaks = declared.split('\n').filter((l) => /\bfrom ['"]\.|import\(['"]\./.test(l));
  if (leaks.length) throw new Error(`src/library/index.ts exposes internal types:\n${leaks.join('\n')}`);
  const text = `// Generated from src/library/index.ts by scripts/library-types.mjs (npm run types); do not edit.\n${declared}`;
  const target = path.join(root, 'lib', 'index.d.ts');
  if (process.argv.includes('--check')) {
    if (!fs.existsSync(target) || fs.readFileSync(target, 'utf8') !== text) throw new Error('lib/index.d.ts is not what src/library/index.ts declares: run npm run types');
  } else fs.writeFileSync(target, text);
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}
