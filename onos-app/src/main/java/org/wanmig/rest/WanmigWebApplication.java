package org.wanmig.rest;

import org.onlab.rest.AbstractWebApplication;

import java.util.Set;

/** The JAX-RS application of /onos/wanmig. */
public class WanmigWebApplication extends AbstractWebApplication {
    @Override
    public Set<Class<?>> getClasses() {
        return getClasses(WanmigWebResource.class);
    }
}
