package simulator

const childEnv = "BMC_AGENT_SIM_BENCH_CHILD"

func runChild() int { return 0 }
