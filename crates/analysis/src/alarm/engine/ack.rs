//! Acknowledgements (`POST /api/v1/alarms/{id}/ack`, queued on the alarm desk): recorded by
//! the engine at an interval's end, once per episode.

use super::records::{acknowledged_text, flood_record, flow_record, probe_record};
use super::{AckRefused, AckRequest, AlarmEngine, FlowKey, Place};
use crate::alarm::{Acknowledgement, AlarmRecord, AlarmRule, AlarmState};

impl AlarmEngine {
    /// Records an acknowledgement at the interval ending `end_ns`: its `acknowledged`
    /// record, and for a flood summary those of its flows' active alarms (not notified:
    /// the summary's record stands for them). The alarm stays active until it clears.
    pub fn acknowledge(
        &mut self,
        end_ns: i64,
        ack: &AckRequest,
    ) -> Result<Vec<AlarmRecord>, AckRefused> {
        let place = *self.active.get(&ack.id).ok_or(AckRefused::NotActive)?;
        let given = Acknowledgement {
            by: ack.by.clone(),
            time: ack.time_ns,
            note: ack.note.clone(),
        };
        let mut out = Vec::new();
        match place {
            Place::Flow(key, rule) => {
                let flow = self.flow_alarms_mut(&key).ok_or(AckRefused::NotActive)?;
                let active = flow
                    .rule_mut(rule)
                    .active
                    .as_mut()
                    .ok_or(AckRefused::NotActive)?;
                if active.ack.is_some() {
                    return Err(AckRefused::AlreadyAcknowledged);
                }
                active.ack = Some(given);
                let (active, flow) = (active.clone(), &*flow);
                out.push(flow_record(
                    end_ns,
                    AlarmState::Acknowledged,
                    rule,
                    flow,
                    &active,
                    acknowledged_text(rule, Some(flow), &ack.by),
                    None,
                ));
            }
            Place::Probe => {
                let active = self.probe.active.as_mut().ok_or(AckRefused::NotActive)?;
                if active.ack.is_some() {
                    return Err(AckRefused::AlreadyAcknowledged);
                }
                active.ack = Some(given);
                out.push(probe_record(
                    end_ns,
                    AlarmState::Acknowledged,
                    active,
                    acknowledged_text(AlarmRule::KernelDrops, None, &ack.by),
                    None,
                ));
            }
            Place::Flood => {
                let flood = self.floods.get_mut(&ack.id).ok_or(AckRefused::NotActive)?;
                if flood.ack.is_some() {
                    return Err(AckRefused::AlreadyAcknowledged);
                }
                flood.ack = Some(given.clone());
                let text = format!(
                    "{} flood of {} flows acknowledged by {}",
                    flood.rule, flood.count, ack.by
                );
                out.push(flood_record(
                    ack.id,
                    end_ns,
                    AlarmState::Acknowledged,
                    flood,
                    text,
                    None,
                ));
                // Its flows' alarms, in the order of their ids.
                let members: Vec<(u64, FlowKey, AlarmRule)> = self
                    .active
                    .iter()
                    .filter_map(|(id, p)| match p {
                        Place::Flow(k, r) => Some((*id, *k, *r)),
                        _ => None,
                    })
                    .collect();
                for (_, key, rule) in members {
                    let Some(flow) = self.flow_alarms_mut(&key) else {
                        continue;
                    };
                    let Some(active) = flow.rule_mut(rule).active.as_mut() else {
                        continue;
                    };
                    if active.summarised_in != Some(ack.id) || active.ack.is_some() {
                        continue;
                    }
                    active.ack = Some(given.clone());
                    let (active, flow) = (active.clone(), &*flow);
                    out.push(flow_record(
                        end_ns,
                        AlarmState::Acknowledged,
                        rule,
                        flow,
                        &active,
                        acknowledged_text(rule, Some(flow), &ack.by),
                        None,
                    ));
                }
            }
        }
        Ok(out)
    }
}
