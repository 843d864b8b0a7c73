/**
 * A uPlot time-series chart that fills its container's width (ResizeObserver), takes new data in place
 * (setData) and is re-created only when its series change; destroyed with the component.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  readonly label: string;
  readonly stroke: string;
  readonly width: number;
  readonly dash?: readonly number[];
}

export interface ChartProps {
  readonly testid: string;
  /** The number of points of the main series drawn (data-points, for checks). */
  readonly points: number;
  /** x (unix seconds) then one array per series, aligned on x; null where a series has no point. */
  readonly data: uPlot.AlignedData;
  readonly series: readonly ChartSeries[];
  /** How a y value reads in the legend and on the axis. */
  readonly format: (value: number) => string;
  readonly height?: number;
}

/** uPlot's axis font, to measure the y labels with. */
const AXIS_FONT =
  '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
let measurer: CanvasRenderingContext2D | null = null;

/** The y axis as wide as its longest label (uPlot's fixed default clips 2,170,000,000). */
function axisSize(_u: uPlot, values: string[] | null): number {
  measurer ??= document.createElement("canvas").getContext("2d");
  if (measurer === null || values === null || values.length === 0) return 50;
  measurer.font = AXIS_FONT;
  const widest = Math.max(...values.map((v) => measurer?.measureText(v).width ?? 0));
  return Math.max(40, Math.ceil(widest) + 24);
}

function options(props: ChartProps, width: number): uPlot.Options {
  const format = props.format;
  return {
    width,
    height: props.height ?? 260,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [
      { stroke: "#5b6673", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e3e6ea" } },
      {
        stroke: "#5b6673",
        grid: { stroke: "#eef0f3" },
        ticks: { stroke: "#e3e6ea" },
        size: axisSize,
        // As many decimals as the ticks' step needs, so close ticks never read alike.
        values: (_u, splits) => {
          const step = Math.abs((splits[1] ?? 0) - (splits[0] ?? 0));
          const digits = step > 0 ? Math.min(8, Math.max(0, Math.ceil(-Math.log10(step)))) : 2;
          return splits.map((v) =>
            v.toLocaleString("en-US", {
              minimumFractionDigits: digits,
              maximumFractionDigits: digits,
            }),
          );
        },
      },
    ],
    series: [
      {},
      ...props.series.map((s): uPlot.Series => ({
        label: s.label,
        stroke: s.stroke,
        width: s.width,
        spanGaps: true,
        points: { show: false },
        value: (_u, v: number | null) => (v === null ? "—" : format(v)),
        ...(s.dash === undefined ? {} : { dash: [...s.dash] }),
      })),
    ],
  };
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef("");
  const propsRef = useRef(props);
  propsRef.current = props;

  // Same series: new data in place. Other series: a new chart (the old one destroyed first).
  const key = JSON.stringify([props.series, props.height ?? 260]);
  const empty = props.data[0].length === 0;
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    if (empty) {
      // Nothing to draw: no empty axes (the view says why).
      plot.current?.destroy();
      plot.current = null;
      shape.current = "";
      return;
    }
    if (plot.current !== null && shape.current === key) {
      plot.current.setData(props.data);
      return;
    }
    plot.current?.destroy();
    plot.current = new uPlot(
      options(propsRef.current, Math.max(element.clientWidth, 280)),
      props.data,
      element,
    );
    shape.current = key;
  }, [props.data, key, empty]);

  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    let width = element.clientWidth;
    const observer = new ResizeObserver(() => {
      const next = element.clientWidth;
      if (next === width || next === 0) return;
      width = next;
      const current = plot.current;
      if (current !== null) {
        current.setSize({ width: Math.max(next, 280), height: propsRef.current.height ?? 260 });
      }
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
      shape.current = "";
    };
  }, []);

  return (
    <div
      class={`chart${empty ? " empty" : ""}`}
      ref={box}
      data-testid={props.testid}
      data-points={props.points}
    />
  );
}

/** The sorted union of the times of several series, each mapped onto it (null where it has none). */
export function align(
  series: readonly (readonly { time: number; y: number }[])[],
): [number[], ...(number | null)[][]] {
  const times = [...new Set(series.flatMap((points) => points.map((p) => p.time)))].sort(
    (a, b) => a - b,
  );
  const index = new Map(times.map((time, i) => [time, i]));
  const columns = series.map((points) => {
    const column: (number | null)[] = new Array<number | null>(times.length).fill(null);
    for (const point of points) {
      const i = index.get(point.time);
      if (i !== undefined) column[i] = point.y;
    }
    return column;
  });
  return [times, ...columns];
}
