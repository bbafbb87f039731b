import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import { requireJson, requireRange, requireUuid } from "./validation.ts";

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ConnectError ? [err.code, err.rawMessage] : undefined;
  }
  return undefined;
};

describe("validation", () => {
  test("uuids are checked and lower-cased", () => {
    expect(requireUuid("run_id", "0190F5A4-0000-7000-8000-00000000000A")).toBe("0190f5a4-0000-7000-8000-00000000000a");
    expect(codeOf(() => requireUuid("run_id", "zzz"))).toEqual([Code.InvalidArgument, 'run_id: "zzz" is not a UUID']);
  });

  test("payloads: empty is null, size before parsing, UTF-8 then JSON", () => {
    expect(requireJson("args", new Uint8Array(), 10).length).toBe(0);
    expect(codeOf(() => requireJson("args", new Uint8Array(11), 10))?.[0]).toBe(Code.ResourceExhausted);
    expect(codeOf(() => requireJson("args", new Uint8Array([0xff]), 10))).toEqual([
      Code.InvalidArgument,
      "args: is not valid UTF-8",
    ]);
    expect(codeOf(() => requireJson("args", new TextEncoder().encode("{"), 10))?.[1]).toMatch(
      /^args: is not valid JSON/,
    );
  });

  test("ranges name the field and the bounds", () => {
    expect(codeOf(() => requireRange("max_runs", 0, 1, 1000))).toEqual([
      Code.InvalidArgument,
      "max_runs: must be between 1 and 1000, got 0",
    ]);
  });
});
