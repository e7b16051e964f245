import { sdkContractSuite } from "./sdk.contract.suite";

/** The SDK against the built server with the in-process tier on (its default). */
sdkContractSuite({ TASK_META_CACHE_L1_ENABLED: "true" });
