/** The services next to the chain (gateway, watchtower): up or not, and the figures that matter. */
import type { ServiceView } from "../../../src/console/api.js";
import { Badge, Empty } from "../format.js";
import { useApi } from "../live.js";
import { LoadedView, Panel } from "./shared.js";

export function OpsView() {
  const state = useApi("ops", "");
  return (
    <LoadedView name="ops" title="Ops" state={state} what="the services">
      {(page) =>
        page.services.length === 0 ? (
          <Empty>
            No gateway or watchtower URL was given: start the console with --gateway/--watchtower.
          </Empty>
        ) : (
          <div class="services">
            {page.services.map((service) => (
              <Service key={`${service.name}-${service.url}`} service={service} />
            ))}
          </div>
        )
      }
    </LoadedView>
  );
}

const FIGURE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });

function figure(value: number): string {
  return FIGURE.format(value);
}

function Service({ service }: { service: ServiceView }) {
  const health =
    service.healthy === null
      ? { tone: "bad" as const, label: "unreachable" }
      : service.healthy
        ? { tone: "ok" as const, label: "healthy" }
        : { tone: "warn" as const, label: "unhealthy" };
  const figures = Object.entries(service.figures).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Panel
      title={service.name}
      extra={<Badge tone={health.tone}>{health.label}</Badge>}
      class={`service service-${health.tone}`}
      testid={`service-${service.name}`}
      data={{ "data-health": health.label }}
    >
      <div class="muted small service-url">
        <code>{service.url}</code>
      </div>
      {service.error === null ? null : (
        <div class="state error" role="alert">
          {service.error}
        </div>
      )}
      {figures.length === 0 ? (
        <Empty>No figures.</Empty>
      ) : (
        <table class="grid figures">
          <tbody>
            {figures.map(([name, value]) => (
              <tr key={name}>
                <td>
                  <code class="metric">{name}</code>
                </td>
                <td class="r num">{figure(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
