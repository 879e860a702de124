// Charts drawn as inline SVG (the policy allows no script or style from elsewhere, and
// no style attribute): bars or a line over labelled axes. Each is an image named by its
// caption, and its description lists every figure, so a screen reader gives the same
// numbers the picture shows.

import type { ReactNode } from "react";

import "./Chart.css";

export interface Point {
  label: string;
  /** null: nothing to measure in that period (a gap in the line, no bar). */
  value: number | null;
}

interface ChartProps {
  id: string;
  title: string;
  points: Point[];
  kind: "bar" | "line";
  format: (value: number) => string;
  /** The top of the scale when it is fixed (a percentage); else rounded up from the data. */
  max?: number;
  /** Counts: no tick between whole numbers. */
  whole?: boolean;
}

const WIDTH = 640;
const HEIGHT = 260;
const LEFT = 64;
const RIGHT = 12;
const TOP = 12;
const BOTTOM = 44;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT = HEIGHT - TOP - BOTTOM;
// More labels than this under the axis would overlap; the others are in the description.
const MOST_LABELS = 6;
const LONGEST_LABEL = 14;

/** The smallest 1, 2 or 5 times a power of ten at or above `value`: a round top. */
function roundUp(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= value) ?? value;
}

function shortened(text: string): string {
  return text.length > LONGEST_LABEL ? `${text.slice(0, LONGEST_LABEL - 1)}…` : text;
}

export function Chart({ id, title, points, kind, format, max, whole = false }: ChartProps) {
  const values = points.map((point) => point.value).filter((value): value is number => value !== null);
  const top = max ?? roundUp(Math.max(0, ...values));
  const slot = PLOT_WIDTH / Math.max(points.length, 1);
  const x = (index: number): number => LEFT + slot * (index + 0.5);
  const y = (value: number): number => TOP + PLOT_HEIGHT - (value / top) * PLOT_HEIGHT;
  const ticks = whole && top % 2 !== 0 ? [0, top] : [0, top / 2, top];
  const every = Math.ceil(points.length / MOST_LABELS);
  const described = points.map((point) => `${point.label}: ${point.value === null ? "none" : format(point.value)}`);
  // A line is broken where a period has no figure.
  const segments: Point[][] = [[]];
  for (const point of points) {
    if (point.value === null) segments.push([]);
    else segments[segments.length - 1].push(point);
  }

  return (
    <figure className="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-desc`}>
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{described.length > 0 ? described.join("; ") : "No figures."}</desc>
        {ticks.map((tick) => (
          <g key={tick}>
            <line className="grid" x1={LEFT} x2={WIDTH - RIGHT} y1={y(tick)} y2={y(tick)} />
            <text x={LEFT - 6} y={y(tick) + 4} textAnchor="end">
              {format(tick)}
            </text>
          </g>
        ))}
        <line className="axis" x1={LEFT} x2={LEFT} y1={TOP} y2={TOP + PLOT_HEIGHT} />
        <line className="axis" x1={LEFT} x2={WIDTH - RIGHT} y1={TOP + PLOT_HEIGHT} y2={TOP + PLOT_HEIGHT} />
        {points.map((point, index) =>
          index % every === 0 ? (
            <text key={index} x={x(index)} y={HEIGHT - BOTTOM + 18} textAnchor="middle">
              {shortened(point.label)}
            </text>
          ) : null,
        )}
        {kind === "bar" &&
          points.map((point, index) =>
            point.value === null ? null : (
              <rect
                key={index}
                className="bar"
                x={x(index) - slot * 0.35}
                width={slot * 0.7}
                y={y(point.value)}
                height={Math.max(TOP + PLOT_HEIGHT - y(point.value), 0)}
              >
                <title>{`${point.label}: ${format(point.value)}`}</title>
              </rect>
            ),
          )}
        {kind === "line" &&
          segments.map((segment) =>
            segment.length > 1 ? (
              <polyline
                key={points.indexOf(segment[0])}
                className="line"
                points={segment.map((point) => `${x(points.indexOf(point))},${y(point.value ?? 0)}`).join(" ")}
              />
            ) : null,
          )}
        {kind === "line" &&
          points.map((point, index) =>
            point.value === null ? null : (
              <circle key={index} className="dot" cx={x(index)} cy={y(point.value)} r={3}>
                <title>{`${point.label}: ${format(point.value)}`}</title>
              </circle>
            ),
          )}
      </svg>
    </figure>
  );
}

/** A wide table's box: it scrolls sideways on a narrow screen, and the keyboard can
 * scroll it too (it takes the focus, named for what it holds). */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
