import pytest

from rnn_core.config import PRESETS, ModelConfig, TrainConfig, config_from_dict


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ModelConfig(hidden_size=0), "hidden_size must be in [1, 512]"),
        (lambda: ModelConfig(cell_type="TRANSFORMER"), "cell_type must be one of LSTM, GRU, RNN"),
        (lambda: ModelConfig(num_layers=2.5), "num_layers must be an integer"),
        (lambda: TrainConfig(learning_rate=0), "learning_rate must be in [1e-06, 100.0]"),
        (lambda: TrainConfig(batch_size=-5), "batch_size must be in [1, 60000]"),
        (lambda: TrainConfig(optimizer="RMSprop"), "optimizer must be one of SGD, Adam"),
        (lambda: TrainConfig(device="tpu"), "device must be one of"),
        (lambda: TrainConfig(train_limit=0), "train_limit must be in"),
        (lambda: TrainConfig(epochs=True), "epochs must be an integer"),
    ],
)
def test_out_of_range_values_raise_value_error_naming_the_field(build, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build()


def test_defaults_are_the_notebook_settings():
    assert PRESETS["notebook"].model == ModelConfig(hidden_size=20, num_layers=1, cell_type="LSTM")
    train = PRESETS["notebook"].train
    assert (train.optimizer, train.learning_rate, train.batch_size, train.epochs) == ("SGD", 0.1, 100, 10)


def test_config_from_dict_ignores_unknown_keys_and_still_validates():
    assert config_from_dict(ModelConfig, {"hidden_size": 7, "future_field": 1}).hidden_size == 7
    with pytest.raises(ValueError, match="hidden_size"):
        config_from_dict(ModelConfig, {"hidden_size": -1})
