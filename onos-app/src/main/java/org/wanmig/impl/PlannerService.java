package org.wanmig.impl;

import org.wanmig.planner.NetworkPlanner;

/** The planner of the configuration in force, for REST and CLI views of planned rules. */
@FunctionalInterface
public interface PlannerService {

    /** @throws org.wanmig.api.WanmigException UNAVAILABLE when there is no valid configuration */
    NetworkPlanner planner();
}
