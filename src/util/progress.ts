/** Progress on stderr: one rewritten line on a terminal, a plain line every few seconds otherwise. */
export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
    private readonly everyMs = 5000,
  ) {}

  update(done: number, extra = ''): void {
    const now = Date.now();
    const finished = done >= this.total;
    if (!finished && now - this.lastPrint < (this.tty ? 200 : this.everyMs)) return;
    this.lastPrint = now;
    const secs = (now - this.start) / 1000;
    const rate = done / Math.max(secs, 1e-3);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const line = `${this.label} ${done}/${this.total} ${this.unit} · ${rate.toFixed(1)} ${this.unit}/s · ETA ${formatSeconds(eta)}${extra ? ` · ${extra}` : ''}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}${finished ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
