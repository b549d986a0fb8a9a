import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartLine {
  label: string;
  values: (number | null)[];
  color: string;
}

/** A uPlot line chart over time; `t` in ms since the epoch. */
export function Chart({ title, t, lines, height = 180 }: { title: string; t: number[]; lines: ChartLine[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = lines.map((l) => l.label).join('|');

  useEffect(() => {
    const element = box.current!;
    const options: uPlot.Options = {
      title,
      width: Math.max(320, element.clientWidth),
      height,
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 1.5, spanGaps: false }))],
      axes: [{}, { size: 60 }],
    };
    plot.current = new uPlot(options, data(t, lines), element);
    const resize = () => plot.current?.setSize({ width: Math.max(320, element.clientWidth), height });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [title, shape, height]);

  useEffect(() => {
    plot.current?.setData(data(t, lines));
  }, [t, lines]);

  return <div class="chart" ref={box} />;
}

function data(t: number[], lines: ChartLine[]): uPlot.AlignedData {
  return [t.map((v) => v / 1000), ...lines.map((l) => l.values)] as uPlot.AlignedData;
}
