import { createRoot } from "react-dom/client";
import { createOperatorClient, createWorkflowClient } from "./api.ts";
import { App } from "./app.tsx";
import { loadConfig } from "./config.ts";

const config = await loadConfig();
const client = createWorkflowClient(config);
createRoot(document.getElementById("root")!).render(
  <App config={config} client={client} operator={createOperatorClient(config)} />,
);
