package org.wanmig.planner;

/**
 * The planner of the configuration in force, for REST and CLI views of planned rules: an ONOS
 * service, and a service of the embedded runtime's REST service directory.
 */
@FunctionalInterface
public interface PlannerService {

    /** @throws org.wanmig.api.WanmigException UNAVAILABLE when there is no valid configuration */
    NetworkPlanner planner();
}
