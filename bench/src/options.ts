// Option parsers shared by the bench commands (commander).
import { InvalidArgumentError } from "commander";

/** Parses an integer option of at least `min`, naming the option when it is not one. */
export const int = (name: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};
