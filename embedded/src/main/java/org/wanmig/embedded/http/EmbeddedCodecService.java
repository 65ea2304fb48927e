package org.wanmig.embedded.http;

import org.onosproject.codec.CodecService;
import org.onosproject.codec.JsonCodec;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** ONOS's CodecService for the embedded runtime: the codecs registered here and nothing else. */
public final class EmbeddedCodecService implements CodecService {
    private final Map<Class<?>, JsonCodec<?>> codecs = new ConcurrentHashMap<>();

    /** A codec service holding the given codecs (e.g. WanmigCodecs.all()). */
    public static EmbeddedCodecService of(Map<Class<?>, JsonCodec<?>> codecs) {
        EmbeddedCodecService service = new EmbeddedCodecService();
        service.codecs.putAll(codecs);
        return service;
    }

    @Override
    public Set<Class<?>> getCodecs() {
        return Set.copyOf(codecs.keySet());
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> JsonCodec<T> getCodec(Class<T> entityClass) {
        return (JsonCodec<T>) codecs.get(entityClass);
    }

    @Override
    public <T> void registerCodec(Class<T> entityClass, JsonCodec<T> codec) {
        codecs.put(entityClass, codec);
    }

    @Override
    public void unregisterCodec(Class<?> entityClass) {
        codecs.remove(entityClass);
    }
}
