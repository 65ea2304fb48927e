package org.wanmig.replication.net;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The JSON mapper for input from the network (control API bodies, peer OPEN messages): nesting
 * depth, string and number lengths are bounded while parsing (so 20,000 nested brackets are an
 * error, not a StackOverflowError), and anything after the first value is rejected.
 */
public final class SafeJson {
    public static final int MAX_DEPTH = 32;
    public static final int MAX_STRING = 64 * 1024;
    public static final int MAX_NUMBER = 100;

    public static final ObjectMapper MAPPER = create();

    private SafeJson() {
    }

    public static ObjectMapper create() {
        JsonFactory f = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(MAX_DEPTH)
                        .maxStringLength(MAX_STRING)
                        .maxNumberLength(MAX_NUMBER)
                        .build())
                .build();
        return new ObjectMapper(f).enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }
}
