import { ConfigError } from "@weft/runtime";
import { describe, expect, test } from "vitest";
import { journalConfigFromEnv, journalLimits } from "./config.ts";

/** Auth is required by default; these tests are about limits. */
const AUTH = { WEFT_SERVICE_TOKEN: "config-test-service-token" };

describe("journal limits from the environment", () => {
  test("safe defaults", () => {
    const config = journalConfigFromEnv(AUTH);
    expect(journalLimits(config)).toEqual({
      maxRequestBytes: 64 * 1024 * 1024,
      maxStepsPerRun: 50_000,
      maxEventsPerRun: 10_000,
      historyPageMax: 50_000,
      maxWatchesPerClient: 100,
      maxStreamsPerConnection: 1000,
    });
    expect(config.maxPayloadBytes).toBe(1024 * 1024);
    expect(config.pageSizeMax).toBe(1000);
  });

  test("settings are read, and the request limit follows a larger payload limit", () => {
    const config = journalConfigFromEnv({
      ...AUTH,
      WEFT_MAX_PAYLOAD_BYTES: String(32 * 1024 * 1024),
      WEFT_MAX_STEPS_PER_RUN: "10",
      WEFT_MAX_EVENTS_PER_RUN: "5",
      WEFT_HISTORY_PAGE_MAX: "7",
      WEFT_MAX_WATCHES_PER_CLIENT: "3",
      WEFT_MAX_STREAMS_PER_CONNECTION: "9",
    });
    expect(journalLimits(config)).toEqual({
      maxRequestBytes: 128 * 1024 * 1024,
      maxStepsPerRun: 10,
      maxEventsPerRun: 5,
      historyPageMax: 7,
      maxWatchesPerClient: 3,
      maxStreamsPerConnection: 9,
    });
    expect(journalLimits(journalConfigFromEnv({ ...AUTH, WEFT_MAX_REQUEST_BYTES: "2048" })).maxRequestBytes).toBe(2048);
  });

  test.each([
    ["WEFT_MAX_STEPS_PER_RUN", "0"],
    ["WEFT_MAX_EVENTS_PER_RUN", "-1"],
    ["WEFT_HISTORY_PAGE_MAX", "abc"],
    ["WEFT_MAX_WATCHES_PER_CLIENT", "0"],
    ["WEFT_MAX_STREAMS_PER_CONNECTION", "1.5"],
    ["WEFT_MAX_REQUEST_BYTES", "10"],
    ["WEFT_CLAIM_ORDER", "fifo"],
  ])("a bad %s stops start-up with its name", (name, value) => {
    expect(() => journalConfigFromEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => journalConfigFromEnv({ [name]: value })).toThrow(name);
  });
});

test("claims are pushed eagerly unless WEFT_CLAIM_ORDER=fair", () => {
  expect(journalConfigFromEnv(AUTH).claimOrder).toBe("eager");
  expect(journalConfigFromEnv({ ...AUTH, WEFT_CLAIM_ORDER: "fair" }).claimOrder).toBe("fair");
});
