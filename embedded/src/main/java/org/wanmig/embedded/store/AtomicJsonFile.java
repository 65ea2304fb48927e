package org.wanmig.embedded.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.function.Function;

/**
 * How the file stores replace a record: readers (and a restart after a crash) see the old or the new
 * content, never half. And how they read one back: decoded, or an error naming the file.
 */
final class AtomicJsonFile {
    private AtomicJsonFile() {
    }

    /** Writes {@code content} to a sibling temporary file, fsyncs it, and renames it over {@code file}. */
    static void write(ObjectMapper mapper, Path file, JsonNode content) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(content)
                    .getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot replace " + file, e);
        }
    }

    /**
     * The JSON object in {@code file}, decoded.
     *
     * @throws UnreadableStateException naming the file, when it cannot be read, is not a JSON
     *         object, or does not decode
     */
    static <T> T read(ObjectMapper mapper, Path file, Function<ObjectNode, T> decode) {
        try {
            JsonNode node = mapper.readTree(Files.readString(file));
            if (!(node instanceof ObjectNode)) {
                throw new IOException("not a JSON object");
            }
            return decode.apply((ObjectNode) node);
        } catch (IOException | RuntimeException e) {
            throw new UnreadableStateException(file, e);
        }
    }
}
