package org.wanmig.embedded.store;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.api.Evacuation;
import org.wanmig.codec.EvacuationCodec;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.store.InMemoryEvacuationStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Evacuation records of the embedded runtime, one JSON file per record ({@code evacuations/<id>.json},
 * the codec's JSON), each rewritten atomically (write, fsync, rename) on every change: an evacuation
 * record grows with its servers, so one file per record keeps a change's write to that record.
 * A restarted runtime reads them all and its runner resumes the active ones.
 */
public final class FileEvacuationStore extends InMemoryEvacuationStore {
    private final Path dir;
    private final EvacuationCodec codec = new EvacuationCodec();
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = context.mapper();

    public FileEvacuationStore(Path stateDir) {
        this.dir = stateDir.resolve("evacuations");
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
                for (Path f : files) {
                    super.put(AtomicJsonFile.read(mapper, f, node -> codec.decode(node, context)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir, e);
        }
    }

    /** The file of the record with this id. */
    public Path file(long id) {
        return dir.resolve(id + ".json");
    }

    @Override
    public synchronized void put(Evacuation evacuation) {
        Path file = file(evacuation.id().value());
        AtomicJsonFile.write(mapper, file, codec.encode(evacuation, context));
        super.put(evacuation); // in memory only once on disk: what readers see survives a crash
    }
}
