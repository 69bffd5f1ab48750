"""Reading a Prometheus exposition in tests: sample values by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples"]


class Samples:
    """The samples of one scrape: ``value(name, **labels)`` sums the matching samples."""

    def __init__(self, text: str) -> None:
        self.samples = [
            (sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            value
            for sample_name, sample_labels, value in self.samples
            if sample_name == name
            and all(sample_labels.get(key) == wanted for key, wanted in labels.items())
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {
            sample_labels[label]
            for sample_name, sample_labels, _ in self.samples
            if sample_name == name and label in sample_labels
        }

    def has(self, name: str) -> bool:
        return any(sample_name == name for sample_name, _, _ in self.samples)
