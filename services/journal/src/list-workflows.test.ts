import { ConnectError } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { decodePageToken, encodePageToken } from "./list-workflows.ts";

test("page tokens round-trip and reject forgeries", () => {
  const id = "0190f5a4-0000-7000-8000-000000000001";
  const token = encodePageToken("2026-11-26 23:28:09.123456+00", id);
  expect(decodePageToken(token)).toEqual({ createdAt: "2026-11-26 23:28:09.123456+00", id });
  expect(() => decodePageToken("!!")).toThrow(ConnectError);
  expect(() => decodePageToken(Buffer.from('["1 OR 1=1", "x"]').toString("base64url"))).toThrow(/page_token/);
});
