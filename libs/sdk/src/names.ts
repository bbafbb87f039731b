// Validation of workflow, step and event names: they are journal keys and NATS-safe identifiers.
import { DefinitionError } from "./errors.ts";

export const MAX_NAME_LENGTH = 200;
const NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** Throws a DefinitionError naming `what` unless `name` is a valid Weft name. */
export function validateName(what: string, name: unknown): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new DefinitionError(`${what} name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new DefinitionError(
      `${what} name "${name.slice(0, 40)}..." is ${name.length} characters; the maximum is ${MAX_NAME_LENGTH}`,
    );
  }
  if (!NAME_PATTERN.test(name)) {
    throw new DefinitionError(`${what} name "${name}" may contain only letters, digits and _ . : -`);
  }
  return name;
}
