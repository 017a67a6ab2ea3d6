/**
 * Small CSV tables with a fixed header (`name,x,y`, `id,mm`), read with csv-parse: BOM and
 * surrounding spaces dropped, blank lines skipped, header names compared case-insensitively.
 * Problems carry the line number and never the file name (the caller adds it).
 */
import { parse } from 'csv-parse/sync';

export interface CsvRow {
  /** 1-based line of the row in the file. */
  line: number;
  cells: string[];
}

export function readCsvTable(text: string, header: readonly string[]): { rows: CsvRow[]; problems: string[] } {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (err) {
    return { rows: [], problems: [`not valid CSV (${(err as Error).message.split('\n')[0]?.slice(0, 200)})`] };
  }
  const [first, ...rest] = records;
  const expected = header.join(',');
  if (first === undefined) return { rows: [], problems: [`empty CSV: expected the header "${expected}"`] };
  if (first.record.map((c) => c.toLowerCase()).join(',') !== expected) {
    return { rows: [], problems: [`line ${first.info.lines}: header ${JSON.stringify(first.record.join(','))}, expected "${expected}"`] };
  }
  const rows: CsvRow[] = [];
  const problems: string[] = [];
  for (const { record, info } of rest) {
    if (record.length !== header.length) problems.push(`line ${info.lines}: ${record.length} field(s), expected ${header.length} (${expected})`);
    else rows.push({ line: info.lines, cells: record });
  }
  return { rows, problems };
}

// As many fraction digits as a float printer writes (the shortest repr of a double has up to 17
// significant digits: 208.42635658914728).
const DECIMAL = /^[+-]?\d{1,9}(?:\.\d{1,20})?$/;

/** A plain decimal number ("12", "-3.5", "208.42635658914728"); exponents, hex, NaN and empty strings are not. */
export function parseDecimal(s: string): number | undefined {
  return DECIMAL.test(s) ? Number(s) : undefined;
}
