package org.wanmig.codec;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.onosproject.codec.CodecContext;
import org.onosproject.codec.JsonCodec;

import java.util.Map;

/** A codec context without ONOS: the wanmig codecs and the services they look up. */
public final class WanmigCodecContext implements CodecContext {
    private final ObjectMapper mapper = new ObjectMapper();
    private final Map<Class<?>, JsonCodec<?>> codecs = WanmigCodecs.all();
    private final Map<Class<?>, Object> services;

    public WanmigCodecContext(Map<Class<?>, Object> services) {
        this.services = Map.copyOf(services);
    }

    @Override
    public ObjectMapper mapper() {
        return mapper;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> JsonCodec<T> codec(Class<T> entityClass) {
        JsonCodec<T> codec = (JsonCodec<T>) codecs.get(entityClass);
        if (codec == null) {
            throw new IllegalArgumentException("no codec for " + entityClass.getName());
        }
        return codec;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T getService(Class<T> serviceClass) {
        Object service = services.get(serviceClass);
        if (service == null) {
            throw new IllegalStateException("no service " + serviceClass.getName());
        }
        return (T) service;
    }
}
