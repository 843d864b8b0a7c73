/** The page's tables: a scrolling grid with its header, and tables of rows described by their columns. */
import type { ComponentChildren } from "preact";
import type { Int } from "../../../src/console/api.js";
import { Age, Amount, DeviceLink, Empty, Id, count } from "../format.js";

/** A header cell: its text and its class (r: right-aligned, c: centred…). */
export interface Heading {
  readonly head: ComponentChildren;
  readonly class?: string;
}

/** A column: its heading, and what each row shows in it (in `cellClass`, else the heading's class). */
export interface Column<T> extends Heading {
  readonly cell: (row: T) => ComponentChildren;
  readonly cellClass?: string | ((row: T) => string);
  /** A cell's title (its tooltip), when it has one. */
  readonly cellTitle?: (row: T) => string;
}

/** The attributes of a row: its class and its data-* hooks. */
export type RowAttributes = Readonly<Record<string, string>>;

/** A grid (table.grid) that scrolls sideways in its wrapper; the rows are the children. */
export function Grid({
  headings,
  testid,
  class: className,
  stale = false,
  children,
}: {
  headings: readonly Heading[];
  testid: string;
  class?: string;
  /** The rows are being replaced (dimmed while a new page loads). */
  stale?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class={`table-wrap${stale ? " stale" : ""}`}>
      <table class={`grid${className === undefined ? "" : ` ${className}`}`} data-testid={testid}>
        <thead>
          <tr>
            {headings.map((heading, i) => (
              <th key={i} class={heading.class}>
                {heading.head}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export interface DataTableProps<T> {
  readonly rows: readonly T[];
  readonly columns: readonly Column<T>[];
  readonly rowKey: (row: T) => string;
  /** A row's class and data-* hooks. */
  readonly rowAttributes?: (row: T) => RowAttributes;
  readonly testid: string;
  /** Said instead of the table when there is no row. */
  readonly empty: ComponentChildren;
}

/** A grid of `rows`, one cell per column; `empty` instead when there is no row. */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  rowAttributes,
  testid,
  empty,
}: DataTableProps<T>) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <Grid headings={columns} testid={testid}>
      {rows.map((row) => (
        <tr key={rowKey(row)} {...rowAttributes?.(row)}>
          {columns.map((column, i) => (
            <td
              key={i}
              class={
                typeof column.cellClass === "function"
                  ? column.cellClass(row)
                  : (column.cellClass ?? column.class)
              }
              title={column.cellTitle?.(row)}
            >
              {column.cell(row)}
            </td>
          ))}
        </tr>
      ))}
    </Grid>
  );
}

/** A column of times, shown as ages. */
export function ageColumn<T>(head: string, time: (row: T) => number): Column<T> {
  return { head, cell: (row) => <Age time={time(row)} /> };
}

/** A column of ids (accounts, incidents, transactions…), short, the whole id in the title. */
export function idColumn<T>(head: string, id: (row: T) => string): Column<T> {
  return { head, cell: (row) => <Id id={id(row)} /> };
}

/** A column of device ids, each a link to its device's page. */
export function deviceColumn<T>(head: string, id: (row: T) => string): Column<T> {
  return { head, cell: (row) => <DeviceLink id={id(row)} /> };
}

/** A right-aligned column of amounts of the asset (`zero` for a zero amount, when given). */
export function amountColumn<T>(head: string, value: (row: T) => Int, zero?: string): Column<T> {
  return {
    head,
    class: "r",
    cell: (row) => <Amount value={value(row)} zero={zero} />,
  };
}

/** A column of block numbers. */
export function blockColumn<T>(block: (row: T) => number): Column<T> {
  return { head: "Block", cellClass: "num", cell: (row) => <>#{count(block(row))}</> };
}
