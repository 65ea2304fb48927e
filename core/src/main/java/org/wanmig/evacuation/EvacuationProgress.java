package org.wanmig.evacuation;

import org.wanmig.api.Evacuation;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.config.EvacuationSettings;

import java.util.ArrayList;
import java.util.List;

/** Where an evacuation stands, in the planner's terms: admission items and a live ETA. */
public final class EvacuationProgress {
    private EvacuationProgress() {
    }

    /** The record's servers as admission sees them, in plan order. */
    public static List<Admission.Item> items(Evacuation e) {
        List<Admission.Item> items = new ArrayList<>(e.servers().size());
        for (ServerEvacuation s : e.servers()) {
            Admission.Phase phase = s.state() == ServerEvacuation.State.QUEUED ? Admission.Phase.QUEUED
                    : s.state() == ServerEvacuation.State.IN_FLIGHT ? Admission.Phase.RUNNING : Admission.Phase.FINISHED;
            items.add(new Admission.Item(EvacuationSettings.pairKey(e.source(), s.destination()), s.rank(),
                    s.exclusive(), phase));
        }
        return items;
    }

    /**
     * When the evacuation is expected to end, seen at {@code now}: what is in flight ends at its start
     * plus its estimate (or now, if already over), what is queued runs for its estimate as admission
     * allows. Unlike {@link Evacuation#etaMillis()} (the plan's), this follows what really happened:
     * slow servers, retries. For an evacuation that has ended: the time of its last event.
     */
    public static long projectedEndMillis(Evacuation e, long now) {
        if (!e.isActive()) {
            return e.timeline().get(e.timeline().size() - 1).epochMillis();
        }
        List<Admission.Item> items = items(e);
        long[] times = new long[items.size()];
        for (int i = 0; i < times.length; i++) {
            ServerEvacuation s = e.servers().get(i);
            times[i] = s.state() == ServerEvacuation.State.IN_FLIGHT ? s.startedMillis() + s.estimatedMillis()
                    : s.estimatedMillis();
        }
        long[] end = Admission.simulate(items, times, e.slotsByPair(), now)[1];
        long last = now;
        for (long x : end) {
            last = Math.max(last, x);
        }
        return last;
    }
}
