/** The benchmark scripts' command line: `--name value` flags. */
export const args = process.argv.slice(2);

/** The value after `--name`, or `fallback` when the flag (or its value) is absent. */
export const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
