/** The median of `xs` (the mean of the middle two for an even count); undefined when empty. */
export function median(xs: number[]): number | undefined {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  if (sorted.length === 0) return undefined;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
