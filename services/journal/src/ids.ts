// Identifiers: UUID v7 (time-ordered, so inserts stay local in the primary key index).
import { v7 } from "uuid";

export const uuidv7 = (): string => v7();
