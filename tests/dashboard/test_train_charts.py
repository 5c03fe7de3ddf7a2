"""The Train page's charts: a diverged run's short epoch axis stays readable."""

from dashboard.train_charts import training_loss_spec


def x_axes(spec: dict) -> list[dict]:
    return [layer["encoding"]["x"] for layer in spec["layer"] if "x" in layer.get("encoding", {})]


def test_a_run_that_blew_up_early_gets_a_few_plain_ticks_and_a_normal_one_whole_epochs():
    for x in x_axes(training_loss_spec(0.01, blow_up=True)):
        assert x["axis"] == {"tickCount": 4, "format": "~g"} and x["scale"]["domain"] == [0, 0.01]
    for x in x_axes(training_loss_spec(10)):
        assert x["axis"] == {"tickMinStep": 1}
