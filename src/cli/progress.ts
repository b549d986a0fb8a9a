/**
 * A one-line progress bar on stderr (`[#####.....] 50/100`), redrawn in
 * place on a terminal and printed once at the end otherwise, so piped
 * output stays clean.
 */
export function progressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stderr) {
  const width = 30;
  const render = (done: number) => {
    const filled = total ? Math.round((Math.min(done, total) / total) * width) : width;
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
  };
  return {
    update(done: number) {
      if (stream.isTTY) stream.write(`\r${render(done)}`);
    },
    finish(done: number) {
      stream.write(`${stream.isTTY ? '\r' : ''}${render(done)}\n`);
    },
  };
}
