/** Display helpers; everything they return is shown as text, never as HTML. */

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(1)} %`;
}

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : value.toLocaleString('en');
}

export function time(value: number | null | undefined): string {
  return value ? new Date(value).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–';
}

export function rate(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${value < 10 ? value.toFixed(1) : Math.round(value)}/min`;
}
