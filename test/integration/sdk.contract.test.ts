import { sdkContractSuite } from "./sdk.contract.suite";

/** The SDK against the built server, in-process tier off: every resolver read goes to Redis. */
sdkContractSuite({ TASK_META_CACHE_L1_ENABLED: "false" });
