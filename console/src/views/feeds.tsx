/** The feeds: one card each, its answer, its health, its rating. */
import { Age, Badge, Empty, FeedValue, GradeBadge, Id, count } from "../format.js";
import { useApi } from "../live.js";
import { LoadedView } from "./shared.js";

export function FeedsView() {
  const state = useApi("feeds", "");
  return (
    <LoadedView name="feeds" title="Feeds" state={state} what="the feeds">
      {(feeds) =>
        feeds.length === 0 ? (
          <Empty>No feed is deployed on this chain.</Empty>
        ) : (
          <div class="feed-cards" data-testid="feeds">
            {feeds.map((feed) => (
              <a
                key={feed.address}
                class={`feed-card ${feed.tripped ? "tripped" : feed.quarantined > 0 ? "degraded" : "healthy"}`}
                href={`#/feed/${feed.address}`}
                data-feed={feed.address}
              >
                <div class="feed-card-head">
                  <span class="feed-name">{feed.description}</span>
                  <GradeBadge rating={feed.rating} />
                </div>
                <div class="feed-answer">
                  {feed.latestAnswer === null ? (
                    <span class="muted">no answer</span>
                  ) : (
                    <FeedValue value={feed.latestAnswer} decimals={feed.decimals} />
                  )}
                </div>
                <div class="feed-meta">
                  <span>round {count(feed.latestRound)}</span>
                  <span>
                    updated <Age time={feed.updatedAt} />
                  </span>
                </div>
                <div class="feed-badges">
                  {feed.tripped ? (
                    <Badge tone="bad">breaker tripped</Badge>
                  ) : (
                    <Badge tone="ok">answering</Badge>
                  )}
                  <Badge tone="info">{feed.members} members</Badge>
                  {feed.quarantined > 0 ? (
                    <Badge tone="warn">{feed.quarantined} quarantined</Badge>
                  ) : null}
                </div>
                <div class="feed-ids">
                  <span class="muted">address</span> <Id id={feed.address} />{" "}
                  <span class="muted">· id</span> <Id id={feed.feedId} />
                </div>
              </a>
            ))}
          </div>
        )
      }
    </LoadedView>
  );
}
