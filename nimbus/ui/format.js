// Number, time and size formats.

/** 1234567 -> "1,234,567"; null/undefined -> "–". */
export function count(n) {
  if (n === null || n === undefined || n === '') return '–';
  const x = Number(n);
  return Number.isFinite(x) ? x.toLocaleString('en-US') : String(n);
}

/** Milliseconds from Storm's strings ("0.123") or numbers, 3 significant places. */
export function ms(v) {
  if (v === null || v === undefined || v === '') return '–';
  const x = Number(v);
  if (!Number.isFinite(x)) return String(v);
  if (x === 0) return '0';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(3);
}

/** "mean / p99" in ms. */
export function latency(mean, p99) {
  return `${ms(mean)} / ${ms(p99)}`;
}

/** A capacity ("0.532") as a fixed 3-decimal string. */
export function capacity(v) {
  const x = Number(v);
  return Number.isFinite(x) ? x.toFixed(3) : '–';
}

/** The capacity class: low (< 0.5), mid (< 0.8), high. */
export function capacityLevel(v) {
  const x = Number(v) || 0;
  if (x >= 0.8) return 'high';
  if (x >= 0.5) return 'mid';
  return 'low';
}

/** A rate per second: 1 decimal below 1000, whole above. */
export function rate(v) {
  const x = Number(v) || 0;
  return x >= 1000 ? String(Math.round(x)) : x.toFixed(1);
}

/** Seconds as "1d 2h", "3h 4m", "5m 6s", "7s". */
export function duration(secs) {
  const s = Math.max(0, Math.floor(Number(secs) || 0));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${r}s`;
  return `${r}s`;
}

/** Bytes as "12.3 MB". */
export function bytes(b) {
  if (b === null || b === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let x = Number(b);
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}

/** CPU milliseconds as seconds. */
export function cpu(msValue) {
  if (msValue === null || msValue === undefined) return '–';
  return `${(Number(msValue) / 1000).toFixed(1)} s`;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** Unix milliseconds as local "HH:MM:SS" (with the date when not today). */
export function clock(timeMs) {
  const d = new Date(Number(timeMs));
  if (Number.isNaN(d.getTime())) return '–';
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return t;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

/** The full local date and time, for tooltips. */
export function fullTime(timeMs) {
  const d = new Date(Number(timeMs));
  return Number.isNaN(d.getTime()) ? '' : d.toString();
}
