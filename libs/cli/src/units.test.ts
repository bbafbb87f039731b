import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { benchArgs, normalizeUrl } from "./cli.ts";
import { CliError, codeName, EXIT, reportError } from "./exit.ts";
import { duration, table, toJson } from "./format.ts";

describe("cli helpers", () => {
  it("maps Connect codes to exit codes and wire names", () => {
    expect(codeName(Code.FailedPrecondition)).toBe("failed_precondition");
    expect(reportError(new ConnectError("run_id: nope", Code.InvalidArgument))).toEqual({
      exitCode: EXIT.usage,
      code: "invalid_argument",
      message: "run_id: nope",
    });
    expect(reportError(new ConnectError("x", Code.NotFound)).exitCode).toBe(3);
    expect(reportError(new ConnectError("x", Code.Unavailable)).exitCode).toBe(4);
    expect(reportError(new ConnectError("x", Code.Internal)).exitCode).toBe(6);
    expect(reportError(new CliError("late", EXIT.timeout, "deadline_exceeded")).exitCode).toBe(5);
  });

  it("finds bench after the global options only", () => {
    expect(benchArgs(["--url", "u", "--json", "bench", "-w", "W1"])).toEqual(["-w", "W1"]);
    expect(benchArgs(["--url=u", "bench"])).toEqual([]);
    expect(benchArgs(["get", "bench"])).toBeUndefined();
  });

  it("formats urls, durations, tables and JSON", () => {
    expect(normalizeUrl("127.0.0.1:7233")).toBe("http://127.0.0.1:7233");
    expect(normalizeUrl("https://weft.example/")).toBe("https://weft.example");
    expect(() => normalizeUrl("http://")).toThrow(CliError);
    expect(duration(new Date(0), new Date(1_500))).toBe("1.5s");
    expect(duration(new Date(0), new Date(125_000))).toBe("2m5s");
    expect(table(["A", "BB"], [["xyz", "1"]])).toBe("A    BB\nxyz  1");
    expect(toJson({ n: 42n, d: new Date(0) })).toBe('{"n":"42","d":"1970-01-01T00:00:00.000Z"}');
  });
});
