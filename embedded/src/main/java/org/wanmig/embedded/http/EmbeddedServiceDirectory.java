package org.wanmig.embedded.http;

import org.onlab.osgi.ServiceDirectory;
import org.onlab.rest.BaseResource;

import java.lang.reflect.Field;
import java.util.Map;

/**
 * The services ONOS's web resources look up (BaseResource.get, AbstractWebResource.codec), for the
 * embedded runtime: what ONOS finds in OSGi, this finds in a fixed map. BaseResource keeps its
 * directory in a private static field with no setter; ONOS's own ResourceTest sets it by
 * reflection, and so does {@link #install}. One directory per process, so one REST server per
 * process.
 */
public final class EmbeddedServiceDirectory implements ServiceDirectory {
    private final Map<Class<?>, Object> services;

    public EmbeddedServiceDirectory(Map<Class<?>, Object> services) {
        services.forEach((type, service) -> {
            if (!type.isInstance(service)) {
                throw new IllegalArgumentException(service + " is not a " + type.getName());
            }
        });
        this.services = Map.copyOf(services);
    }

    @Override
    public <T> T get(Class<T> serviceClass) {
        Object service = services.get(serviceClass);
        if (service == null) {
            // ONOS's ServiceNotFoundException is in onlab-osgi too, but its mapper is ONOS's
            throw new IllegalStateException("no service " + serviceClass.getName() + " in the embedded runtime");
        }
        return serviceClass.cast(service);
    }

    /** Makes this the directory of every BaseResource (and so AbstractWebResource) in this process. */
    public void install() {
        try {
            Field field = BaseResource.class.getDeclaredField("services");
            field.setAccessible(true);
            field.set(null, this);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot set BaseResource's service directory", e);
        }
    }
}
