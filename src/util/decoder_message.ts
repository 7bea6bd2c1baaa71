/**
 * One line for an image decoder's error. libvips reports some failures (a damaged HEIF/AVIF) as
 * dozens of lines of its reader's retries ("source: bad seek to N") before the cause, and a few
 * with no message, or "Unknown error", at all.
 */
export function decoderMessage(err: Error): string {
  const lines = err.message
    .replace(/source: bad seek to \d+/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const text = [...new Set(lines)].join(' ');
  return text === '' || /^unknown error\.?$/i.test(text) ? 'the decoder gave no reason: not an image in a format it reads, or a damaged one' : text;
}
